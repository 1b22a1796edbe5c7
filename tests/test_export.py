"""Exports render the exact records, correctly quoted for each tool."""

from __future__ import annotations

import json
import re

import dns.zone
import yaml

import spfmanager
from spfmanager.publish.export import ExportFormat, export, hcl_string

ZONE = {
    "vendor.example": [
        {"TXT": "v=spf1 " + " ".join(f"ip4:10.{i}.0.0/16" for i in range(0, 80, 2)) + " -all"}
    ],
}
RECORD = "v=spf1 include:vendor.example exists:%{i}._spf.example.com -all"


def result() -> spfmanager.FlattenResult:
    return spfmanager.flatten(RECORD, "example.com", resolver=spfmanager.SnapshotResolver(ZONE))


def test_bind_export_loads_as_a_zone_and_holds_the_same_strings() -> None:
    flat = result()
    text = "$ORIGIN example.com.\n@ 3600 IN SOA localhost. h. 1 1 1 1 1\n@ IN NS localhost.\n"
    text += export([flat], ExportFormat.BIND, ttl=600)
    zone = dns.zone.from_text(text, origin="example.com.")
    for name, strings in flat.records.items():
        node = zone.get_rdataset(name + ".", "TXT")
        assert node is not None and node.ttl == 600
        assert [s.decode() for s in node[0].strings] == strings


def test_octodns_export_escapes_semicolons_and_keys_relative_names() -> None:
    flat = result()
    data = yaml.safe_load(export([flat], ExportFormat.OCTODNS, zone="example.com"))
    assert data[""]["value"] == flat.texts["example.com"]
    assert len(data) == len(flat.records)


def test_terraform_route53_uses_quoted_strings_and_escapes_macros() -> None:
    flat = result()
    text = export([flat], ExportFormat.TERRAFORM_ROUTE53)
    assert text.count('resource "aws_route53_record"') == len(flat.records)
    assert "%%{i}" in text  # HCL template escape: SPF macros must reach DNS literally
    records = re.findall(r"records = \[(.*)\]", text)
    for line in records:
        value = json.loads(line.replace("%%{", "%{"))  # an HCL string is a JSON string here
        assert value.startswith('"v=spf1 ') and all(len(p) <= 257 for p in value.split('" "'))


def test_terraform_cloudflare_and_json() -> None:
    flat = result()
    text = export([flat], ExportFormat.TERRAFORM_CLOUDFLARE)
    assert text.count('resource "cloudflare_record"') == len(flat.records)
    data = json.loads(export([flat], ExportFormat.JSON))
    assert data[0]["records"][0]["name"] == "example.com"


def test_hcl_string_escapes() -> None:
    assert hcl_string('a"b\\c ${x} %{y}') == '"a\\"b\\\\c $${x} %%{y}"'
