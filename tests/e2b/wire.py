"""Wire-level checks the SDKs rely on, with plain httpx: E2B-shaped errors everywhere (unknown
routes, bad keys, bad bodies), X-API-KEY auth, 409 on a second pause, 200 vs 201 on connect,
and the sandbox side's access token."""

import os

import httpx

API = os.environ["E2B_API_URL"].rstrip("/")
SANDBOX = os.environ["E2B_SANDBOX_URL"].rstrip("/")
KEY = os.environ["E2B_API_KEY"]
H = {"X-API-KEY": KEY}


def e2b_error(r, status):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == status and isinstance(body["message"], str) and body["message"], body


with httpx.Client(timeout=60) as c:
    e2b_error(c.get(f"{API}/no/such/route", headers=H), 404)
    e2b_error(c.get(f"{API}/v2/sandboxes"), 401)
    e2b_error(c.get(f"{API}/v2/sandboxes", headers={"X-API-KEY": "wrn_wrong"}), 401)
    e2b_error(c.put(f"{API}/v2/sandboxes", headers=H), 405)
    e2b_error(c.post(f"{API}/v2/sandboxes", headers=H, content=b"{not json"), 400)
    e2b_error(c.post(f"{API}/v2/sandboxes", headers=H, json={"templateID": "base", "timeout": 0}), 400)
    e2b_error(c.get(f"{API}/sandboxes/sb-doesnotexist", headers=H), 404)
    e2b_error(c.delete(f"{API}/sandboxes/sb-doesnotexist", headers=H), 404)

    r = c.post(f"{API}/v2/sandboxes", headers=H, json={"templateID": "base", "timeout": 60})
    assert r.status_code == 201, r.text
    sb = r.json()
    sid, token = sb["sandboxID"], sb["envdAccessToken"]
    assert sb["envdVersion"] and token and sb["templateID"] == "base", sb

    envd = {"E2b-Sandbox-Id": sid, "E2b-Sandbox-Port": "49983"}
    assert c.get(f"{SANDBOX}/health", headers={**envd, "X-Access-Token": token}).status_code == 204
    e2b_error(c.get(f"{SANDBOX}/health", headers=envd), 401)
    e2b_error(c.get(f"{SANDBOX}/health", headers={**envd, "X-Access-Token": "wrong"}), 401)
    e2b_error(c.get(f"{SANDBOX}/health", headers={"E2b-Sandbox-Id": "sb-nope", "X-Access-Token": token}), 404)
    # The same by host name, as the SDK does without E2B_SANDBOX_URL.
    host = SANDBOX.split("://", 1)[1]
    port = host.rsplit(":", 1)[1]
    r = c.get(f"{SANDBOX}/health", headers={"Host": f"49983-{sid}.localhost:{port}", "X-Access-Token": token})
    assert r.status_code == 204, (r.status_code, r.text)

    r = c.post(f"{API}/v2/sandboxes/{sid}/connect", headers=H, json={"timeout": 60})
    assert r.status_code == 200, r.text
    assert c.post(f"{API}/sandboxes/{sid}/pause", headers=H).status_code == 204
    e2b_error(c.post(f"{API}/sandboxes/{sid}/pause", headers=H), 409)
    e2b_error(c.get(f"{SANDBOX}/health", headers={**envd, "X-Access-Token": token}), 502)
    r = c.post(f"{API}/v2/sandboxes/{sid}/connect", headers=H, json={"timeout": 60})
    assert r.status_code == 201, r.text
    assert c.get(f"{SANDBOX}/health", headers={**envd, "X-Access-Token": token}).status_code == 204
    assert c.delete(f"{API}/sandboxes/{sid}", headers=H).status_code == 204
    print("ok")
