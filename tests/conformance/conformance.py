"""Runs schemathesis over the part of Pinterest's v5 spec that adloom
claims, and over adloom's own API document (`GET /openapi.json`, after
checking that it is valid OpenAPI 3.1), against a running adloom, with the
checks for server errors, status codes, content types and response schemas.

Called by scripts/conformance with: the adloom binary, the spec, the
schemathesis config (tests/conformance/schemathesis.toml, which also lists
what adloom deliberately refuses, with the reason), and the phases' budget.
It starts adloom on a fresh data directory, makes an ad account with one of
each object (so that `GET .../{id}` paths answer 200 and their bodies are
checked too), then runs `st` with an advertiser's token and those ids over
Pinterest's spec, and with the operator's token over adloom's own document.
The budget is split between the two runs.
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

OPERATIONS = os.path.join(os.path.dirname(__file__), "operations.txt")
# The checks the issue names: no server errors, and status codes, content
# types and bodies as the spec declares them.
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Adloom:
    def __init__(self, binary, data_dir):
        self.port = free_port()
        self.admin = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, ADLOOM_ADMIN_TOKEN=self.admin)
        env.pop("ADLOOM_CONFIG", None)
        self.log = open(os.path.join(data_dir, "adloom.log"), "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", data_dir],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{self.base}/readyz")
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("adloom did not become ready")

    def call(self, method, path, body=None, token=None):
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token or self.admin}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as r:
            return json.load(r)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def seed(adloom):
    """An ad account with a token, and one of each object; returns the
    token and the ids schemathesis puts in the paths."""
    people = [{"user_id": f"u{i}", "email": f"person{i}@example.com", "country": "US"} for i in range(120)]
    adloom.call("POST", "/v1/admin/people", people)
    account = adloom.call("POST", "/v5/ad_accounts", {"name": "Conformance"})["id"]
    token = adloom.call("POST", "/v1/admin/access_tokens", {"ad_account_ids": [account]})["access_token"]
    v5 = f"/v5/ad_accounts/{account}"

    def first(path, item):
        return adloom.call("POST", f"{v5}/{path}", [item], token)["items"][0]["data"]["id"]

    campaign = first("campaigns", {"name": "Conformance", "objective_type": "AWARENESS"})
    group = first("ad_groups", {"name": "Everyone", "campaign_id": campaign, "billable_event": "IMPRESSION",
                                "bid_in_micro_currency": 2_000_000})
    pin = adloom.call("POST", f"/v5/pins?ad_account_id={account}",
                      {"title": "A pin", "link": "https://shop.example/",
                       "media_source": {"source_type": "image_url", "url": "https://shop.example/a.jpg"}}, token)["id"]
    ad = first("ads", {"ad_group_id": group, "creative_type": "REGULAR", "pin_id": pin,
                       "destination_url": "https://shop.example/"})
    tag = adloom.call("POST", f"{v5}/conversion_tags", {"name": "Shop"}, token)["id"]
    records = ",".join(p["email"] for p in people)
    customer_list = adloom.call("POST", f"{v5}/customer_lists",
                                {"name": "Customers", "records": records, "list_type": "EMAIL"}, token)["id"]
    audience = adloom.call("POST", f"{v5}/audiences",
                           {"name": "Customers", "audience_type": "CUSTOMER_LIST",
                            "rule": {"customer_list_id": customer_list}}, token)["id"]
    return token, {
        "ad_account_id": account,
        "campaign_id": campaign,
        "ad_group_id": group,
        "ad_id": ad,
        "pin_id": pin,
        "conversion_tag_id": tag,
        "customer_list_id": customer_list,
        "audience_id": audience,
    }


def own_document(adloom):
    """Fetches adloom's document and checks it is valid OpenAPI 3.1."""
    from openapi_spec_validator import validate

    with urllib.request.urlopen(f"{adloom.base}/openapi.json") as r:
        document = json.load(r)
    validate(document)
    print(f"conformance: /openapi.json is valid OpenAPI {document['openapi']}, "
          f"{sum(len(ops) for ops in document['paths'].values())} operations")


def main():
    binary, spec, config, seconds = sys.argv[1:5]
    half = str(max(1, int(seconds) // 2))
    schemathesis = os.path.join(os.path.dirname(sys.executable), "st")
    report = os.path.abspath("target/conformance")
    with tempfile.TemporaryDirectory() as data_dir:
        adloom = Adloom(binary, data_dir)
        try:
            own_document(adloom)
            token, ids = seed(adloom)
            operations = [line.split("#")[0].strip() for line in open(OPERATIONS)]
            pinterest = [schemathesis, "--config-file", config, "run", spec, "--url", f"{adloom.base}/v5",
                         "--checks", CHECKS, "--max-time", half, "--report", "junit",
                         "--report-junit-path", f"{report}-pinterest.xml"]
            for operation in filter(None, operations):
                pinterest += ["--include-operation-id", operation]
            env = dict(os.environ, ADLOOM_TOKEN=token, **{f"ADLOOM_{k.upper()}": v for k, v in ids.items()})
            code = subprocess.call(pinterest, env=env)
            own = [schemathesis, "--config-file", config, "run", f"{adloom.base}/openapi.json",
                   "--url", adloom.base, "--checks", CHECKS, "--max-time", half, "--report", "junit",
                   "--report-junit-path", f"{report}-adloom.xml"]
            # The operator's token: most of adloom's own routes are the
            # operator's.
            code = subprocess.call(own, env=dict(env, ADLOOM_TOKEN=adloom.admin)) or code
        finally:
            adloom.stop()
    if code != 0:
        print(f"conformance: schemathesis failed (exit {code})")
    sys.exit(code)


if __name__ == "__main__":
    main()
