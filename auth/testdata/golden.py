#!/usr/bin/env python3
"""Writes golden.txt: one token per algorithm, signed by OpenSSL (not by the
gateway's code), for TestGoldenTokens. Run from auth/testdata:

    python3 golden.py > golden.txt

Each line is "KID TOKEN". The keys are the *.key files beside this script,
made for these tests with `openssl genpkey` (never use them elsewhere);
the HS256 secret is the tests' testSecret. Python only lays out the JWS
(base64url, JSON, DER to r||s); every signature is made by the openssl
command line: HMAC by `openssl dgst -mac HMAC`, Ed25519 and SM2 (with SM3
and the GM/T 0009 default UID) by `openssl pkeyutl -rawin`, ECDSA by
`openssl dgst -sha256 -sign`.
"""
import base64, json, subprocess, tempfile

SECRET = "0123456789abcdef0123456789abcdef"
IAT = 1767225600 - 3600 - 60   # a minute before the tests' testNow
EXP = 1767225600               # the tests' testExp

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def openssl(args, data):
    # pkeyutl -rawin signs in one shot, so it reads a file, not a pipe.
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        path = ["-in", f.name] if args[0] == "pkeyutl" else [f.name]
        return subprocess.run(["openssl"] + args + path, capture_output=True, check=True).stdout

def der_to_raw(der, size=32):
    # SEQUENCE { INTEGER r, INTEGER s }, short lengths only (P-256, SM2).
    assert der[0] == 0x30 and der[1] == len(der) - 2
    out, i = b"", 2
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = int.from_bytes(der[i + 2:i + 2 + n], "big")
        out += v.to_bytes(size, "big")
        i += 2 + n
    return out

def token(kid, alg, sign):
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    claims = {"sub": "golden-" + kid, "accounts": ["A1", "A2"], "ent": {"SH": "L2", "SZ": "L1"},
              "adm": True, "iat": IAT, "exp": EXP, "jti": "ignored-" + kid}
    signing_input = (b64(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64(json.dumps(claims, separators=(",", ":")).encode())).encode()
    return kid + " " + signing_input.decode() + "." + b64(sign(signing_input))

print(token("hs", "HS256", lambda m: openssl(["dgst", "-sha256", "-mac", "HMAC", "-macopt", "key:" + SECRET, "-binary"], m)))
print(token("ed-a", "EdDSA", lambda m: openssl(["pkeyutl", "-sign", "-inkey", "ed25519-a.key", "-rawin"], m)))
print(token("es", "ES256", lambda m: der_to_raw(openssl(["dgst", "-sha256", "-sign", "es256.key", "-binary"], m))))
print(token("sm2", "SM2SM3", lambda m: der_to_raw(openssl(["pkeyutl", "-sign", "-inkey", "sm2.key", "-rawin", "-digest", "sm3",
                                                            "-pkeyopt", "distid:1234567812345678"], m))))
