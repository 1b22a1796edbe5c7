"""Route 53 credential and connection failures reach the user as one clean line, never as a
botocore traceback (issue 12).

The CLI runs as a user runs it (``python -m spfmanager``), against moto's server on
127.0.0.1; the environment is emptied of AWS settings and instance metadata is off, so
nothing but loopback is ever contacted.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from spfmanager.errors import ProviderAuthError, ProviderServerError
from spfmanager.providers.route53 import Route53Provider, check_credentials
from tests.cli.run import run_cli
from tests.providers.test_route53 import endpoint  # noqa: F401  (moto on 127.0.0.1)

pytestmark = pytest.mark.integration

SNAPSHOT = "servers.mcsv.net:\n- TXT: v=spf1 ip4:205.201.128.0/20 -all\n"


PLAN_ARGS = ("-c", "spfmanager.yaml", "--dns-snapshot", "dns-snapshot.yaml")


def aws_free_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without any AWS setting, metadata lookups off, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    env.update(extra)
    return env


def plan(tmp_path: Path, options: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "spfmanager.yaml").write_text(
        "defaults: {policy: '-all', provider: aws}\n"
        f"providers:\n  aws: {{kind: route53, hosted_zone_id: Z123, {options}}}\n"
        "state: {url: 'sqlite:///spfmanager.db'}\n"
        "domains:\n  example.com: {services: [mailchimp]}\n",
        encoding="utf-8",
    )
    (tmp_path / "dns-snapshot.yaml").write_text(SNAPSHOT, encoding="utf-8")
    return run_cli("plan", *PLAN_ARGS, cwd=tmp_path, env=aws_free_env(tmp_path, **env), timeout=120)


def assert_clean_failure(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert "botocore" not in done.stderr
    assert done.stderr.startswith("error: route53: zone example.com: "), done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def test_plan_with_only_an_access_key_id_says_the_secret_is_missing(
    tmp_path: Path,
    endpoint: str,  # noqa: F811
) -> None:
    done = plan(
        tmp_path,
        f'aws_access_key_id: "env:KEY_ID", endpoint_url: "{endpoint}"',
        KEY_ID="AKIAEXAMPLEKEY123456",
    )
    assert_clean_failure(
        done, "AWS credentials incomplete: aws_secret_access_key is missing", "aws_access_key_id"
    )


def test_plan_with_half_the_credentials_in_the_environment(
    tmp_path: Path,
    endpoint: str,  # noqa: F811
) -> None:
    """boto3's own chain finds AWS_ACCESS_KEY_ID without AWS_SECRET_ACCESS_KEY: the
    PartialCredentialsError of the issue, raised while the client is made."""
    done = plan(tmp_path, f'endpoint_url: "{endpoint}"', AWS_ACCESS_KEY_ID="AKIAEXAMPLEKEY123456")
    assert_clean_failure(
        done, "AWS credentials incomplete: AWS_SECRET_ACCESS_KEY is missing", "found in env"
    )


def test_plan_without_any_credentials(
    tmp_path: Path,
    endpoint: str,  # noqa: F811
) -> None:
    """NoCredentialsError, raised by botocore's signer at the first request."""
    done = plan(tmp_path, f'endpoint_url: "{endpoint}"')
    assert_clean_failure(done, "no AWS credentials", "aws_secret_access_key")


def test_the_secret_alone_is_incomplete_too() -> None:
    with pytest.raises(ProviderAuthError, match="aws_access_key_id is missing"):
        check_credentials("example.com", None, "wJalrXUtnFEMI/K7MDENG")
    check_credentials("example.com", None, None)  # boto3's chain
    check_credentials("example.com", "AKIA", "secret")


def test_secret_alone_never_shows_in_the_message() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    with pytest.raises(ProviderAuthError) as caught:
        Route53Provider(
            "example.com", aws_secret_access_key=secret, endpoint_url="http://127.0.0.1:9"
        )
    assert secret not in str(caught.value)


def test_endpoint_not_listening_is_a_server_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = Route53Provider(
        "example.com",
        "Z123",
        aws_access_key_id="AKIAEXAMPLEKEY123456",
        aws_secret_access_key="secret",
        endpoint_url=f"http://127.0.0.1:{port}",
    )
    provider.sleep = lambda _seconds: None
    with pytest.raises(ProviderServerError, match="cannot connect to the Route 53 API"):
        provider.list_records()


def test_unusable_endpoint_url_is_a_provider_error() -> None:
    with pytest.raises(Exception) as caught:
        Route53Provider(
            "example.com",
            aws_access_key_id="AKIAEXAMPLEKEY123456",
            aws_secret_access_key="secret",
            endpoint_url="not a url",
        )
    assert type(caught.value).__module__ == "spfmanager.errors", repr(caught.value)
    assert "endpoint_url" in str(caught.value)
