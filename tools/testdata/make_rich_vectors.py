#!/usr/bin/python3
"""Writes tests/unit/data/rich_vectors.json: encrypted rich-notification payloads made the
way Microsoft Graph makes them (GRAPH.md section 5), with Python's `cryptography` package
(Debian python3-cryptography), independently of graphmirror's own code.

  key = 32 random bytes, different per item
  dataKey = base64(RSA-OAEP(SHA-1, MGF1-SHA-1, empty label) of key, with the certificate's key)
  data = base64(AES-256-CBC(key, iv = key[0:16], PKCS7(plaintext)))
  dataSignature = base64(HMAC-SHA256(key, the ciphertext bytes))

Each case says what decrypting it must give: the plaintext, or the reason it is rejected.
Run from the repository root: tools/testdata/make_rich_vectors.py
"""

import base64
import hashlib
import hmac
import json
import os

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def b64(data):
    return base64.b64encode(data).decode()


def pem(private_key):
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def aes_cbc(key, data, pad=True):
    if pad:
        padder = padding.PKCS7(128).padder()
        data = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def wrap(public_key, key):
    return public_key.encrypt(
        key,
        asym_padding.OAEP(
            mgf=asym_padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None
        ),
    )


def encrypted(public_key, cert_id, plaintext, key=None, pad=True):
    key = key or os.urandom(32)
    ciphertext = aes_cbc(key, plaintext, pad)
    return {
        "data": b64(ciphertext),
        "dataKey": b64(wrap(public_key, key)),
        "dataSignature": b64(hmac.new(key, ciphertext, hashlib.sha256).digest()),
        "encryptionCertificateId": cert_id,
        "encryptionCertificateThumbprint": "00" * 20,
    }


def main():
    current = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    previous = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # The decrypted content has the shape of Microsoft's example ("Change notifications for
    # Outlook resources in Microsoft Graph", decrypted payload): the $selected properties
    # only (no id: that is resourceData's), with OData type annotations.
    message = json.dumps(
        {
            "createdDateTime@odata.type": "#DateTimeOffset",
            "createdDateTime": "2026-03-01T10:00:00Z",
            "lastModifiedDateTime@odata.type": "#DateTimeOffset",
            "lastModifiedDateTime": "2026-03-01T10:05:00Z",
            "subject": "Quarterly numbers \u00e9t\u00e9 \u2713",
            "importance@odata.type": "#microsoft.graph.importance",
            "importance": "normal",
            "from": {
                "@odata.type": "#microsoft.graph.recipient",
                "emailAddress": {
                    "@odata.type": "#microsoft.graph.emailAddress",
                    "name": "Megan Brown",
                    "address": "Megan.Brown@microsoft.com",
                },
            },
        },
        ensure_ascii=False,
    ).encode()
    # Microsoft's example verbatim: no createdDateTime either (it was not selected).
    example = json.dumps(
        {
            "receivedDateTime@odata.type": "#DateTimeOffset",
            "receivedDateTime": "2021-12-30T10:53:35Z",
            "subject": "TEST MESSAGE FOR RICH NOTIFICATIONS",
            "bodyPreview": "Hello,\r\n\r\nWhat\u2019s up?\r\n\r\nThanks\r\nMegan",
            "importance@odata.type": "#microsoft.graph.importance",
            "importance": "normal",
            "from": {
                "@odata.type": "#microsoft.graph.recipient",
                "emailAddress": {
                    "@odata.type": "#microsoft.graph.emailAddress",
                    "name": "Megan Brown",
                    "address": "Megan.Brown@microsoft.com",
                },
            },
        },
        ensure_ascii=False,
    ).encode()
    cases = []

    def case(name, content, expect, plaintext=None):
        entry = {"name": name, "encryptedContent": content, "expect": expect}
        if plaintext is not None:
            entry["plaintext"] = plaintext.decode()
        cases.append(entry)

    case("valid", encrypted(current.public_key(), "cert-2026", message), "ok", message)
    case("valid, key from the previous certificate (rotation)",
         encrypted(previous.public_key(), "cert-2025", message), "ok", message)
    case("valid, Microsoft's example content (no createdDateTime)",
         encrypted(current.public_key(), "cert-2026", example), "ok", example)
    case("valid, 1-byte plaintext", encrypted(current.public_key(), "cert-2026", b"{"), "ok", b"{")
    case("valid, 16-byte plaintext (a whole padding block)",
         encrypted(current.public_key(), "cert-2026", b'{"id":"0123456"}'), "ok",
         b'{"id":"0123456"}')

    flipped = encrypted(current.public_key(), "cert-2026", message)
    raw = bytearray(base64.b64decode(flipped["data"]))
    raw[5] ^= 0x01
    flipped["data"] = b64(bytes(raw))
    case("flipped ciphertext bit", flipped, "signature")

    case("wrong key (encrypted for a stranger's certificate, our id)",
         encrypted(stranger.public_key(), "cert-2026", message), "key")
    case("unknown certificate id", encrypted(current.public_key(), "cert-1999", message),
         "certificate")

    truncated = encrypted(current.public_key(), "cert-2026", message)
    truncated["dataKey"] = b64(base64.b64decode(truncated["dataKey"])[:200])
    case("truncated dataKey", truncated, "key")

    short_key = encrypted(current.public_key(), "cert-2026", message)
    key16 = os.urandom(16)
    short_key["dataKey"] = b64(wrap(current.public_key(), key16))
    case("dataKey unwraps to 16 bytes, not 32", short_key, "key")

    # Valid signature over a ciphertext whose last block does not unpad.
    key = os.urandom(32)
    unpadded = b"0123456789abcdef" + b"0123456789abcd\x00\x07"
    ciphertext = aes_cbc(key, unpadded, pad=False)
    bad_padding = {
        "data": b64(ciphertext),
        "dataKey": b64(wrap(current.public_key(), key)),
        "dataSignature": b64(hmac.new(key, ciphertext, hashlib.sha256).digest()),
        "encryptionCertificateId": "cert-2026",
        "encryptionCertificateThumbprint": "00" * 20,
    }
    case("bad padding (signature valid)", bad_padding, "padding")

    malformed = encrypted(current.public_key(), "cert-2026", message)
    malformed["data"] = malformed["data"][:-3] + "*=="
    case("malformed base64 in data", malformed, "base64")

    bad_signature = encrypted(current.public_key(), "cert-2026", message)
    bad_signature["dataSignature"] = b64(b"\x00" * 32)
    case("wrong signature", bad_signature, "signature")

    out = {
        "generator": "tools/testdata/make_rich_vectors.py",
        "keys": [
            {"id": "cert-2026", "private_key_pem": pem(current)},
            {"id": "cert-2025", "private_key_pem": pem(previous)},
        ],
        "cases": cases,
    }
    with open("tests/unit/data/rich_vectors.json", "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
