"""Drives adloom with Pinterest's official Python SDK (`pinterest-api-sdk`),
to prove the wire format against a client adloom did not write.

Every resource adloom claims is driven through the SDK's model classes, the
way an advertiser's code would: campaigns, ad groups, pins, ads, keywords,
conversion tags and events, customer lists and audiences; and the analytics
of accounts, campaigns, ad groups and ads through the SDK's generated API
classes (its model classes have none), after a person saw and clicked the
ad.

Run by the Rust test `pinterest_sdk_drives_every_claimed_resource`
(crates/adloom/tests/it), which starts adloom and sets:
PINTEREST_API_URI, PINTEREST_ACCESS_TOKEN, AD_ACCOUNT_ID, EMAILS (a
comma-separated list of the people adloom knows, person i being user u<i>),
ADLOOM_URL and ADLOOM_ADMIN_TOKEN (to ask for a decision as the platform's
feed does, which no advertiser can).
"""
import datetime
import hashlib
import json
import os
import sys
import time
import urllib.request
import uuid

from openapi_generated.pinterest_client.api.ad_accounts_api import AdAccountsApi
from openapi_generated.pinterest_client.api.ad_groups_api import AdGroupsApi
from openapi_generated.pinterest_client.api.ads_api import AdsApi
from openapi_generated.pinterest_client.api.campaigns_api import CampaignsApi
from openapi_generated.pinterest_client.exceptions import ApiException
from pinterest.ads.ad_groups import AdGroup
from pinterest.ads.ads import Ad
from pinterest.ads.audiences import Audience
from pinterest.ads.campaigns import Campaign
from pinterest.ads.conversion_events import Conversion
from pinterest.ads.conversion_tags import ConversionTag
from pinterest.ads.customer_lists import CustomerList
from pinterest.ads.keywords import Keyword
from pinterest.client import PinterestSDKClient
from pinterest.organic.pins import Pin

ACCOUNT = os.environ["AD_ACCOUNT_ID"]
RUN = uuid.uuid4().hex[:8]
EMAILS = os.environ["EMAILS"].split(",")


def sha256(text):
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()


def value(field):
    """The plain value of a model field: the SDK wraps enums (statuses,
    objectives, match types) in model classes."""
    return getattr(field, "value", field)


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


def campaigns_and_ad_groups():
    """A campaign made with the SDK's defaults, listed, paused, activated
    and budgeted; an ad group made, read, renamed, auto-targeted and listed
    by its campaign. Returns (campaign, ad group)."""
    campaign = Campaign.create(ad_account_id=ACCOUNT, name=f"SDK campaign {RUN}", objective_type="WEB_CONVERSION")
    check(value(campaign.status) == "ACTIVE" and value(campaign.summary_status) == "RUNNING", f"new campaign {campaign}")
    check(value(campaign.objective_type) == "WEB_CONVERSION", f"objective {campaign.objective_type}")
    campaigns, _ = Campaign.get_all(ad_account_id=ACCOUNT, page_size=25)
    check(any(c.id == campaign.id for c in campaigns), "the campaign is listed")
    check(campaign.pause() and value(campaign.status) == "PAUSED", f"paused: {campaign.status}")
    check(value(campaign.summary_status) == "PAUSED", f"summary when paused: {campaign.summary_status}")
    check(campaign.activate() and value(campaign.status) == "ACTIVE", f"activated: {campaign.status}")
    check(campaign.set_daily_budget(25_000_000) and campaign.daily_spend_cap == 25_000_000, "daily budget")
    check(campaign.set_lifetime_budget(900_000_000) and campaign.lifetime_spend_cap == 900_000_000, "lifetime budget")
    check(Campaign(ad_account_id=ACCOUNT, campaign_id=campaign.id).daily_spend_cap == 25_000_000, "budget stored")

    targeting = {"GEO": ["US-94107"], "LOCALE": ["en-US"]}
    group = AdGroup.create(
        ad_account_id=ACCOUNT,
        name="SDK runners",
        campaign_id=campaign.id,
        billable_event="CLICKTHROUGH",
        bid_in_micro_currency=2_000_000,
        budget_in_micro_currency=50_000_000,
        budget_type="DAILY",
        # Served at once rather than spread through the day, so that the
        # analytics below have an impression to show.
        pacing_delivery_type="ACCELERATED",
        targeting_spec=targeting,
        # The SDK's default (None) fails its own type check before any
        # request is sent.
        auto_targeting_enabled=False,
    )
    check(value(group.summary_status) == "RUNNING", f"ad group summary {group.summary_status}")
    read = AdGroup(ad_account_id=ACCOUNT, ad_group_id=group.id)
    check(read.name == "SDK runners" and read.campaign_id == campaign.id, f"ad group read back {read}")
    # The SDK's model names the keys in lower case.
    sent = {k.upper(): v for k, v in read.targeting_spec.to_dict().items()}
    check(sent == targeting, f"targeting as sent: {read.targeting_spec}")
    check(group.update_fields(name="SDK runners, renamed") and group.name == "SDK runners, renamed", "renamed")
    group.enable_auto_targeting()
    check(AdGroup(ad_account_id=ACCOUNT, ad_group_id=group.id).auto_targeting_enabled is True, "auto targeting kept")
    groups, _ = AdGroup.get_all(ad_account_id=ACCOUNT, campaign_ids=[campaign.id])
    check([g.id for g in groups] == [group.id], f"ad groups of the campaign: {[g.id for g in groups]}")
    other = Campaign.create(ad_account_id=ACCOUNT, name=f"SDK other {RUN}", objective_type="AWARENESS", status="PAUSED")
    none, _ = AdGroup.get_all(ad_account_id=ACCOUNT, campaign_ids=[other.id])
    check(none == [], "no ad groups of another campaign")
    return campaign, group


def pins_ads_and_keywords(campaign, group):
    """A pin, an ad promoting it in the ad group, and keywords. Returns the
    ad."""
    pin = Pin.create(
        # adloom has no boards: it keeps the id as sent.
        board_id="549755885175",
        media_source={"source_type": "image_url", "url": "https://shoes.example/img/runner.jpg"},
        link="https://shoes.example/runner",
        title="The runner",
        ad_account_id=ACCOUNT,
    )
    check(pin.id.isdigit() and pin.title == "The runner", f"pin {pin}")
    ad = Ad.create(
        ad_account_id=ACCOUNT,
        ad_group_id=group.id,
        creative_type="REGULAR",
        pin_id=pin.id,
        destination_url="https://shoes.example/runner?utm_source=adloom",
        name="SDK runner ad",
    )
    check(value(ad.summary_status) == "APPROVED" and ad.campaign_id == campaign.id, f"ad {ad}")
    check([a.id for a in group.list_ads()[0]] == [ad.id], "the ad group lists its ad")
    ads, _ = Ad.get_all(ad_account_id=ACCOUNT, campaign_ids=[campaign.id])
    check([a.id for a in ads] == [ad.id], "ads by campaign")
    check(ad.update_fields(name="SDK runner ad, renamed") and ad.name == "SDK runner ad, renamed", "ad renamed")

    keyword = Keyword.create(ad_account_id=ACCOUNT, parent_id=group.id, value="trail running shoes", match_type="PHRASE", bid=1_500_000)
    check(keyword.value == "trail running shoes" and value(keyword.match_type) == "PHRASE", f"keyword {keyword}")
    keywords, _ = Keyword.get_all(ad_account_id=ACCOUNT, ad_group_id=group.id)
    check([k.id for k in keywords] == [keyword.id], "keywords of the ad group")
    check(keyword.update_fields(archived=True) and keyword.archived is True, "keyword archived")
    try:
        Keyword.create(ad_account_id=ACCOUNT, parent_id=group.id, value="x" * 121, match_type="PHRASE")
        check(False, "a keyword over 120 characters must be refused")
    except Exception as e:  # the SDK raises its SdkException with the server's message
        check("120" in str(e), f"refused keyword: {e}")
    return ad


def get(url, token):
    """A GET that does not follow redirects (a click beacon sends the
    browser on to the advertiser's site, which is not reachable here)."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        return urllib.request.build_opener(Stay).open(request).status
    except urllib.error.HTTPError as e:
        return e.code


def table(response):
    """The rows of an analytics answer: the SDK wraps the bare array in a
    model, and each row in another."""
    return [row.to_dict() if hasattr(row, "to_dict") else dict(row) for row in response.value]


def analytics(campaign, group, ad):
    """A person sees and clicks the ad; then each level's analytics, through
    the SDK's own client, show it."""
    base = os.environ["ADLOOM_URL"]
    admin = os.environ["ADLOOM_ADMIN_TOKEN"]
    body = json.dumps({"user_id": "u0", "placement": "search", "query": "trail running", "count": 3, "explain": True}).encode()
    request = urllib.request.Request(
        f"{base}/v1/decisions",
        data=body,
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    decision = json.load(urllib.request.urlopen(request))
    served = [a for a in decision["ads"] if a["ad_id"] == ad.id]
    check(len(served) == 1, f"the ad is served: {decision}")
    check(get(served[0]["impression_url"], admin) in (200, 204), "impression counted")
    check(get(served[0]["click_url"], admin) in (302, 303), "click counted")

    client = PinterestSDKClient.create_default_client()
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    columns = ["SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "CTR", "CAMPAIGN_NAME"]
    dates = dict(start_date=today, end_date=today, columns=columns, granularity="TOTAL")
    rows = table(AdAccountsApi(client).ad_account_analytics(ad_account_id=ACCOUNT, **dates))
    check(len(rows) == 1 and rows[0]["AD_ACCOUNT_ID"] == ACCOUNT, f"account rows {rows}")
    # A second-price auction: the click costs at most the bid.
    spend = rows[0]["SPEND_IN_MICRO_DOLLAR"]
    check(0 < spend <= 2_000_000 and rows[0]["TOTAL_CLICKTHROUGH"] == 1, f"account {rows}")
    rows = table(CampaignsApi(client).campaigns_analytics(ad_account_id=ACCOUNT, campaign_ids=[campaign.id], **dates))
    check(rows[0]["CAMPAIGN_ID"] == campaign.id and rows[0]["CAMPAIGN_NAME"] == campaign.name, f"campaign {rows}")
    check(rows[0]["PAID_IMPRESSION"] == 1 and rows[0]["CTR"] == 1.0, f"campaign {rows}")
    by_day = dict(dates, granularity="DAY")
    rows = table(AdGroupsApi(client).ad_groups_analytics(ad_account_id=ACCOUNT, ad_group_ids=[group.id], **by_day))
    check(rows[0]["AD_GROUP_ID"] == group.id and str(rows[0]["DATE"]) == today, f"ad group {rows}")
    rows = table(AdsApi(client).ads_analytics(ad_account_id=ACCOUNT, ad_ids=[ad.id], **dates))
    check(rows[0]["AD_ID"] == ad.id and rows[0]["TOTAL_CLICKTHROUGH"] == 1, f"ad {rows}")
    rows = table(AdsApi(client).ads_analytics(ad_account_id=ACCOUNT, campaign_ids=[campaign.id], pin_ids=[ad.pin_id], **dates))
    check([r["AD_ID"] for r in rows] == [ad.id], f"ad by campaign and pin {rows}")


conversions()
lists_and_audiences()
campaign, group = campaigns_and_ad_groups()
ad = pins_ads_and_keywords(campaign, group)
analytics(campaign, group, ad)
print("sdk: 5 passed, 0 failed")
