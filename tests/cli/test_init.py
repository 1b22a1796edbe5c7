"""``spfmanager init``: a config to start from, as a user runs it; what it writes validates
and builds against the same DNS it was read from."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import yaml

from spfmanager.compile import compile_file
from spfmanager.config import ServiceUse, load_config
from tests.cli.run import TERMINAL_SIZE, environment, run_cli

ROOT = Path(__file__).parents[2]
PROVIDERS = ROOT / "tests" / "data" / "provider-snapshot.yaml"
OVER_LIMIT = ROOT / "examples" / "over-limit"


def spfmanager(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, env=environment(unset=TERMINAL_SIZE))


def snapshot_with(tmp_path: Path, base: Path, records: dict[str, str]) -> Path:
    """``base`` plus the given names' SPF records: the domains as they publish today."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    data.update({name: [{"TXT": text}] for name, text in records.items()})
    path = tmp_path / "dns-snapshot.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_skeleton_validates_and_shows_commented_examples(tmp_path: Path) -> None:
    done = spfmanager("init", "example.com", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote spfmanager.yaml" in done.stdout
    assert "spfmanager validate -c spfmanager.yaml" in done.stdout
    assert "spfmanager plan -c spfmanager.yaml" in done.stdout
    text = (tmp_path / "spfmanager.yaml").read_text(encoding="utf-8")
    assert "#     - microsoft365" in text and "services: []" in text
    config = load_config(tmp_path / "spfmanager.yaml")
    assert list(config.domains) == ["example.com"]
    assert config.defaults.lookup_budget == 8 and config.defaults.provider == "local"
    assert config.providers["local"].kind == "zonefile"
    validated = spfmanager("validate", "-c", "spfmanager.yaml", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert "valid: 1 domain, 0 services" in validated.stdout


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("# my config\n", encoding="utf-8")
    done = spfmanager("init", "example.com", "-o", "mine.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "mine.yaml exists; use --force" in done.stderr
    assert (tmp_path / "mine.yaml").read_text(encoding="utf-8") == "# my config\n"
    forced = spfmanager("init", "example.com", "-o", "mine.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "example.com:" in (tmp_path / "mine.yaml").read_text(encoding="utf-8")


def test_over_limit_record_round_trips_to_the_examples_services(tmp_path: Path) -> None:
    """bigcorp.example publishes its services' includes as written (22 lookups): init
    reads them back as the example's services, and the config builds."""
    _, intents = compile_file(OVER_LIMIT / "spfmanager.yaml")
    published = next(i for i in intents if i.domain == "bigcorp.example").record
    snapshot = snapshot_with(
        tmp_path, OVER_LIMIT / "dns-snapshot.yaml", {"bigcorp.example": published.render()}
    )
    done = spfmanager(
        "init", "bigcorp.example", "--from-dns", "--dns-snapshot", str(snapshot), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert f"spfmanager plan -c spfmanager.yaml --dns-snapshot {snapshot}" in done.stdout
    written = load_config(tmp_path / "spfmanager.yaml").domains["bigcorp.example"]
    example = load_config(OVER_LIMIT / "spfmanager.yaml").domains["bigcorp.example"]
    # {mailgun: {region: both}} is the default: written as plain 'mailgun'
    assert [u.id for u in written.services] == [u.id for u in example.services]
    assert written.ip4 == example.ip4 and written.ip6 == example.ip6
    assert not written.include  # every include was a catalog service's
    _, (intent,) = compile_file(tmp_path / "spfmanager.yaml")
    assert set(intent.record.terms) == set(published.terms)
    assert intent.policy.value == "~all"
    validated = spfmanager("validate", "-c", "spfmanager.yaml", cwd=tmp_path)
    assert validated.returncode == 0, validated.stderr
    built = spfmanager(
        "build", "-c", "spfmanager.yaml", "--dns-snapshot", str(snapshot), cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr


def test_unmapped_includes_and_own_addresses_are_kept(tmp_path: Path) -> None:
    done = spfmanager(
        "init", "mondialrelay.fr", "--from-dns", "--dns-snapshot", str(PROVIDERS), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "spfmanager.yaml").read_text(encoding="utf-8")
    domain = load_config(tmp_path / "spfmanager.yaml").domains["mondialrelay.fr"]
    assert [u.id for u in domain.services] == ["microsoft365", "tipimail", "mailgun", "amazonses"]
    assert domain.include == ("protecmail.mondialrelay.fr", "info.mondialrelay.fr")
    assert [str(n) for n in domain.ip4] == ["185.7.39.6/32", "185.7.39.7/32"]
    assert '- "protecmail.mondialrelay.fr"  # not in the catalog' in text
    assert "#   v=spf1 include:spf.protection.outlook.com" in text  # the record, for review
    assert spfmanager("validate", "-c", "spfmanager.yaml", cwd=tmp_path).returncode == 0
    built = spfmanager(
        "build", "-c", "spfmanager.yaml", "--dns-snapshot", str(PROVIDERS), cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr


def test_parameterised_and_regional_includes_get_their_parameters(tmp_path: Path) -> None:
    record = (
        "v=spf1 include:_spf.eu.mailgun.org include:42.spf03.hubspotemail.net "
        "include:1234567.spf01.hubspotemail.net include:us._netblocks.mimecast.com "
        "include:zohomail.com.au a:dispatch-eu.ppe-hosted.com include:_spf-eu.ionos.com "
        "include:_spf.google.com ip4:192.0.2.1/24 a mx:mx.example.org "
        "-ip4:192.0.2.9 ~include:soft.example ptr exists:%{i}.x.example ?all"
    )
    snapshot = snapshot_with(tmp_path, PROVIDERS, {"mix.example": record})
    args = ("init", "mix.example", "--from-dns", "--dns-snapshot", str(snapshot))
    done = spfmanager(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    domain = load_config(tmp_path / "spfmanager.yaml").domains["mix.example"]
    assert domain.services == (
        ServiceUse("mailgun", (("region", "eu"),)),
        ServiceUse("hubspot", (("account_id", "42"), ("shard", "03"))),
        ServiceUse("hubspot", (("account_id", "1234567"),)),  # shard 01: the default
        ServiceUse("mimecast", (("region", "us"),)),
        ServiceUse("zoho-mail", (("region", "com.au"),)),
        ServiceUse("proofpoint", (("region", "eu"),)),
        ServiceUse("ionos"),  # region eu: the default
        ServiceUse("google-workspace"),
    )
    assert domain.include == ()  # every include named a service
    assert [str(n) for n in domain.ip4] == ["192.0.2.0/24"]  # same addresses as .1/24
    assert domain.a == ("@",) and domain.mx == ("mx.example.org",)
    text = (tmp_path / "spfmanager.yaml").read_text(encoding="utf-8")
    for dropped in ("-ip4:192.0.2.9", "~include:soft.example", "# ptr:", "exists:%{i}.x.example"):
        assert dropped in text
    assert re.search(r'^  policy: "~all"$', text, re.MULTILINE)  # ?all is refused: softfail
    assert "?all protects nothing" in text


def test_a_domain_without_spf_and_dns_options_without_from_dns_fail(tmp_path: Path) -> None:
    none = spfmanager(
        "init", "nothing.example", "--from-dns", "--dns-snapshot", str(PROVIDERS), cwd=tmp_path
    )
    assert none.returncode == 1
    assert "nothing.example does not exist" in none.stderr
    assert not (tmp_path / "spfmanager.yaml").exists()
    mixed = spfmanager("init", "example.com", "--dns-snapshot", str(PROVIDERS), cwd=tmp_path)
    assert mixed.returncode == 1 and "need --from-dns" in mixed.stderr
    bad = spfmanager("init", "not a domain", cwd=tmp_path)
    assert bad.returncode == 1 and "is not a domain name" in bad.stderr


def readme_commands() -> list[str]:
    """The commands of the README's "Start a config, offline" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Start a config, offline", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_commands_run_offline_from_the_repo_root(tmp_path: Path) -> None:
    (tmp_path / "tests" / "data").mkdir(parents=True)
    shutil.copy(PROVIDERS, tmp_path / "tests" / "data")
    commands = readme_commands()
    assert any("--from-dns" in c for c in commands) and any("validate" in c for c in commands)
    for command in commands:  # in order: validate reads what init wrote
        args = shlex.split(command)
        assert args[0] == "spfmanager"
        done = spfmanager(*args[1:], cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)
