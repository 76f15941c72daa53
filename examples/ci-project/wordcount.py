"""A tiny project for examples/ci_job.mjs to test: count words."""

import sys
from collections import Counter


def count(text):
    """Word frequencies of ``text``, case-insensitive."""
    return Counter(w.strip(".,;:!?").lower() for w in text.split() if w.strip(".,;:!?"))


if __name__ == "__main__":
    for word, n in count(sys.stdin.read()).most_common(3):
        print(f"{n} {word}")
