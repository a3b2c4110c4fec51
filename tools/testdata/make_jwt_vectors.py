#!/usr/bin/python3
"""Writes tests/unit/data/jwt_vectors.json: validation tokens as Microsoft Graph puts them
in rich notifications (GRAPH.md section 5), made by Python's `jwt` package (Debian
python3-jwt) and `cryptography`, independently of graphmirror's own code.

Every token is checked at `now` against `jwks` (key k1), or against `jwks_refreshed`
(k1 and k2) once the validator refetched it for an unknown kid. `expect` is "ok" or the
reason the token must be refused.
Run from the repository root: tools/testdata/make_jwt_vectors.py
"""

import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

NOW = 1772323200  # 2026-03-01T00:00:00Z
APP = "11111111-2222-3333-4444-555555555555"  # our client id
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
GRAPH_APP = "0bf30f3b-4a52-48df-9a82-234910c4a086"


def main():
    k1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    k2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(key, kid):
        entry = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        entry.update({"kid": kid, "use": "sig", "kty": "RSA"})
        return entry

    v1 = {
        "aud": APP, "iss": f"https://sts.windows.net/{TENANT}/", "iat": NOW - 60,
        "nbf": NOW - 60, "exp": NOW + 3600, "appid": GRAPH_APP, "tid": TENANT, "ver": "1.0",
    }
    v2 = {
        "aud": APP, "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "iat": NOW - 60,
        "nbf": NOW - 60, "exp": NOW + 3600, "azp": GRAPH_APP, "tid": TENANT, "ver": "2.0",
    }
    cases = []

    def sign(claims, key=k1, kid="k1", alg="RS256"):
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def case(name, token, expect):
        cases.append({"name": name, "token": token, "expect": expect})

    case("valid v1", sign(v1), "ok")
    case("valid v2", sign(v2), "ok")
    case("valid, audience as a list", sign(dict(v2, aud=["other", APP])), "ok")
    case("expired", sign(dict(v1, exp=NOW - 600, nbf=NOW - 7200, iat=NOW - 7200)), "expired")
    case("not yet valid", sign(dict(v1, nbf=NOW + 600, iat=NOW + 600, exp=NOW + 4200)),
         "not_yet_valid")
    case("wrong audience", sign(dict(v1, aud="22222222-0000-0000-0000-000000000000")),
         "audience")
    case("wrong appid (v1)", sign(dict(v1, appid="99999999-0000-0000-0000-000000000000")),
         "caller")
    case("wrong azp (v2)", sign(dict(v2, azp="99999999-0000-0000-0000-000000000000")), "caller")
    case("issuer of another tenant",
         sign(dict(v1, iss="https://sts.windows.net/00000000-0000-0000-0000-000000000000/")),
         "issuer")
    case("unknown kid, found after a refetch", sign(v1, key=k2, kid="k2"), "ok_after_refetch")
    case("unknown kid, not even after a refetch", sign(v1, key=stranger, kid="k9"), "unknown_key")
    case("bad signature (signed by another key under kid k1)", sign(v1, key=stranger), "signature")
    case("alg none", jwt.encode(v1, None, algorithm="none", headers={"kid": "k1"}), "algorithm")
    public_pem = k1.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    hs = jwt.api_jws.PyJWS()
    hs._algorithms["HS256"].prepare_key = lambda key: key  # allow a PEM as the HMAC secret
    token = hs.encode(json.dumps(v1).encode(), public_pem, algorithm="HS256",
                      headers={"kid": "k1", "typ": "JWT"})
    case("HS256 with the public key as the secret", token, "algorithm")
    good = sign(v1)
    head, body, sig = good.split(".")
    case("malformed: two segments", head + "." + body, "malformed")
    case("malformed: payload not base64url", head + ".***." + sig, "malformed")

    out = {
        "generator": "tools/testdata/make_jwt_vectors.py",
        "now": NOW, "client_id": APP, "tenant_id": TENANT,
        "jwks": {"keys": [jwk(k1, "k1")]},
        "jwks_refreshed": {"keys": [jwk(k1, "k1"), jwk(k2, "k2")]},
        "cases": cases,
    }
    with open("tests/unit/data/jwt_vectors.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
