#!/usr/bin/env python3
"""Checks docs/pair-test-vectors.json with an implementation adloom did not
write: libsodium's ristretto255 (crypto_core_ristretto255_from_hash is RFC
9496's one-way map from 64 bytes), called through ctypes, with Python's own
SHA-256 and SHA-512. Exits 0 when every case holds."""
import base64
import ctypes
import ctypes.util
import hashlib
import json
import sys

path = ctypes.util.find_library("sodium")
if path is None:
    sys.exit("libsodium is not installed (Debian: libsodium23)")
sodium = ctypes.CDLL(path)
if sodium.sodium_init() < 0:
    sys.exit("libsodium did not start")


def from_hash(h: bytes) -> bytes:
    out = ctypes.create_string_buffer(32)
    assert sodium.crypto_core_ristretto255_from_hash(out, h) == 0
    return out.raw


def scalarmult(scalar: bytes, element: bytes) -> bytes:
    out = ctypes.create_string_buffer(32)
    if sodium.crypto_scalarmult_ristretto255(out, scalar, element) != 0:
        raise ValueError("the product is the identity")
    return out.raw


def main(file: str) -> None:
    vectors = json.load(open(file))
    salt = base64.b64decode(vectors["salt"])
    publisher = bytes.fromhex(vectors["publisher_key"])
    advertiser = bytes.fromhex(vectors["advertiser_key"])
    for case in vectors["cases"]:
        x = case["identifier"]
        assert x == hashlib.sha256(case["email"].encode()).hexdigest(), x
        wide = hashlib.sha512(hashlib.sha256(salt + x.encode()).digest()).digest()
        element = from_hash(wide)
        expected = {
            "element": element,
            "publisher_id": scalarmult(publisher, element),
            "advertiser_id": scalarmult(advertiser, element),
            "pair_id": scalarmult(advertiser, scalarmult(publisher, element)),
        }
        for name, value in expected.items():
            got = base64.b64encode(value).decode()
            if got != case[name]:
                sys.exit(f"{case['email']}: {name} is {case[name]}, libsodium says {got}")
    print(f"{len(vectors['cases'])} cases hold under libsodium")


if __name__ == "__main__":
    main(sys.argv[1])
