"""Upload bodies shared by both clients: bytes, text, files and iterators, sent in chunks."""

from __future__ import annotations

import os
from typing import IO, Any, AsyncIterable, AsyncIterator, Iterable, Iterator, Union

CHUNK = 256 * 1024

Data = Union[bytes, bytearray, memoryview, str, IO[bytes], Iterable[bytes]]
"""What can be written to a sandbox file: bytes, text (UTF-8), a binary file object, or an
iterable of byte chunks (async clients also take an async iterable)."""


def file_chunks(f: IO[bytes]) -> Iterator[bytes]:
    """A binary file object's content in chunks."""
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return
        yield chunk


def path_chunks(path: Union[str, "os.PathLike[str]"]) -> Iterator[bytes]:
    """A local file's content in chunks (the file is open only while iterated)."""
    with open(path, "rb") as f:
        yield from file_chunks(f)


def body(data: Any) -> Any:
    """``data`` as an httpx ``content`` value that streams instead of loading files whole."""
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "read"):
        return file_chunks(data)
    if isinstance(data, (Iterable, AsyncIterable)):
        return data
    raise TypeError(f"cannot upload a {type(data).__name__}: give bytes, str, a binary file or an iterable of bytes")


async def aiter_sync(it: Iterable[bytes]) -> AsyncIterator[bytes]:
    """A sync iterable as an async one (httpx's async client needs async bodies)."""
    for chunk in it:
        yield chunk
