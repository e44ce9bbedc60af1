"""Issue 19, defects 2 and 3: key management by restricted and by revoked keys, over real HTTP."""

from __future__ import annotations

from tests.integration.conftest import Platform


def test_a_pool_restricted_key_manages_only_keys_within_its_pools(platform: Platform) -> None:
    _, admin_key = platform.create_org("keys-restricted")
    admin = platform.client(admin_key)
    mine = admin.post("/v1/pools", json={"name": "mine"}).json()["id"]
    other = admin.post("/v1/pools", json={"name": "other"}).json()["id"]
    restricted = admin.post("/v1/keys", json={"name": "r", "scopes": ["admin"], "pools": [mine]}).json()
    elsewhere = admin.post("/v1/keys", json={"name": "o", "scopes": ["admin"], "pools": [other]}).json()
    unrestricted = admin.post("/v1/keys", json={"name": "u", "scopes": ["admin"]}).json()
    r = platform.client(restricted["key"])

    listed = {k["id"] for k in r.get("/v1/keys").json()["data"]}
    assert listed == {restricted["id"]}
    assert r.delete(f"/v1/keys/{unrestricted['id']}").status_code == 404
    assert r.delete(f"/v1/keys/{elsewhere['id']}").status_code == 404
    assert r.post("/v1/keys", json={"name": "x", "scopes": ["admin"], "pools": [other]}).status_code == 404
    minted = r.post("/v1/keys", json={"name": "child", "scopes": ["read"]})
    assert minted.status_code == 201 and minted.json()["pools"] == [mine]
    assert r.delete(f"/v1/keys/{minted.json()['id']}").status_code == 204

    still = {k["id"] for k in admin.get("/v1/keys").json()["data"]}
    assert {unrestricted["id"], elsewhere["id"], restricted["id"]} <= still


def test_a_revoked_key_cannot_mint_a_replacement_within_the_authorizer_cache(platform: Platform) -> None:
    _, admin_key = platform.create_org("keys-revoked")
    admin = platform.client(admin_key)
    doomed = admin.post("/v1/keys", json={"name": "doomed", "scopes": ["admin"]}).json()
    d = platform.client(doomed["key"])
    assert d.get("/v1/keys").status_code == 200  # the authorizer now caches this key's policy
    assert admin.delete(f"/v1/keys/{doomed['id']}").status_code == 204

    assert d.post("/v1/keys", json={"name": "heir", "scopes": ["admin"]}).status_code == 401
    assert d.get("/v1/keys").status_code == 401
    assert d.delete(f"/v1/keys/{admin.get('/v1/keys').json()['data'][0]['id']}").status_code == 401
    names = [k["name"] for k in admin.get("/v1/keys").json()["data"]]
    assert "heir" not in names
