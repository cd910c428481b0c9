"""Drives adloom with Pinterest's official Python SDK (`pinterest-api-sdk`),
to prove the wire format against a client adloom did not write.

Run by the Rust test `pinterest_sdk_drives_conversions_lists_and_audiences`
(crates/adloom/tests/it), which starts adloom and sets:
PINTEREST_API_URI, PINTEREST_ACCESS_TOKEN, AD_ACCOUNT_ID, EMAILS (a
comma-separated list of the people adloom knows).
"""
import hashlib
import os
import sys
import time
import uuid

from openapi_generated.pinterest_client.exceptions import ApiException
from pinterest.ads.audiences import Audience
from pinterest.ads.conversion_events import Conversion
from pinterest.ads.conversion_tags import ConversionTag
from pinterest.ads.customer_lists import CustomerList

ACCOUNT = os.environ["AD_ACCOUNT_ID"]
RUN = uuid.uuid4().hex[:8]
EMAILS = os.environ["EMAILS"].split(",")


def sha256(text):
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def conversions():
    tag = ConversionTag.create(ad_account_id=ACCOUNT, name="SDK tag")
    check(tag.id.isdigit(), f"tag id {tag.id!r}")
    now = int(time.time())
    events = [
        Conversion.create_conversion_event(
            event_name="checkout",
            action_source="web",
            event_time=now - 60,
            event_id=f"sdk-order-{RUN}-{i}",
            event_source_url="https://shoes.example/checkout",
            user_data={"em": [sha256(EMAILS[i])], "client_ip_address": "216.3.128.12", "client_user_agent": "Mozilla/5.0"},
            custom_data={"currency": "USD", "value": "72.50", "order_id": f"o-{i}", "num_items": 1},
        )
        for i in range(3)
    ]
    # test=True: checked and answered, not recorded.
    response = Conversion.send_conversion_events(ad_account_id=ACCOUNT, conversion_events=events, test=True)
    check(response.num_events_received == 3 and response.num_events_processed == 3, f"test send: {response}")
    response = Conversion.send_conversion_events(ad_account_id=ACCOUNT, conversion_events=events, test=False)
    check(response.num_events_processed == 3, f"send: {response}")
    check(all(e.status == "processed" and e.error_message == "" for e in response.events), f"statuses: {response}")
    check(all(e.warning_message == "" for e in response.events), "the test send recorded nothing")
    again = Conversion.send_conversion_events(ad_account_id=ACCOUNT, conversion_events=events[:1])
    check("counted once" in again.events[0].warning_message, f"dedup: {again}")

    stale = Conversion.create_conversion_event(
        event_name="checkout",
        action_source="web",
        event_time=now - 8 * 86400,
        event_id="sdk-stale",
        user_data={"em": [sha256(EMAILS[0])]},
        custom_data={},
    )
    try:
        Conversion.send_conversion_events(ad_account_id=ACCOUNT, conversion_events=[stale])
        check(False, "a stale event must be refused")
    except ApiException as e:
        check(e.status == 422 and "7 days" in e.body, f"422 for a stale event: {e.status} {e.body}")


def lists_and_audiences():
    records = ",".join(EMAILS[:110] + ["stranger@example.com"])
    customers = CustomerList.create(ad_account_id=ACCOUNT, name="SDK customers", records=records, list_type="EMAIL")
    check(customers.num_uploaded_user_records == 111, f"uploaded: {customers.num_uploaded_user_records}")
    check(customers.status in ("READY", "TOO_SMALL"), f"status {customers.status}")
    check(customers.type == "customerlist", customers.type)
    customers.update_fields(records=",".join(EMAILS[:5]), operation_type="REMOVE")
    check(customers.num_removed_user_records == 5, f"removed: {customers.num_removed_user_records}")
    check(customers.num_batches == 2, f"batches: {customers.num_batches}")

    lists, bookmark = CustomerList.get_all(ad_account_id=ACCOUNT, page_size=10)
    check(any(l.id == customers.id for l in lists), "the list is listed")

    audience = Audience.create(
        ad_account_id=ACCOUNT,
        name="SDK customer audience",
        rule={"customer_list_id": customers.id},
        audience_type="CUSTOMER_LIST",
        description="made by the official SDK",
    )
    check(audience.audience_type == "CUSTOMER_LIST", audience.audience_type)
    check(audience.status in ("READY", "TOO_SMALL"), audience.status)
    check(audience.size is None or audience.size % 10 == 0, f"size {audience.size}")
    tag = ConversionTag.get_all(ad_account_id=ACCOUNT)[0]
    visitors = Audience.create(
        ad_account_id=ACCOUNT,
        name="SDK visitors",
        rule={"visitor_source_id": tag.id, "retention_days": 30, "event": "checkout", "url": ["https://shoes.example/checkout"]},
        audience_type="VISITOR",
    )
    check(visitors.rule.retention_days == 30, f"rule {visitors.rule}")
    audiences, _ = Audience.get_all(ad_account_id=ACCOUNT)
    check({a.id for a in audiences} >= {audience.id, visitors.id}, "both audiences are listed")


conversions()
lists_and_audiences()
print("sdk: 2 passed, 0 failed")
