"""Benchmark: CPU to build one account's boto3 session and clients (collectors/aws/session).

    .venv/bin/python bench/sessions.py [--accounts 20]

An Organization pass builds a session per assumed role. Prints the CPU per account for three
clients (ec2, rds, elbv2) with Vigil's sessions (one shared model loader) and with a plain
boto3 session per account.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import botocore.session

from collectors.aws.session import botocore_session

SERVICES = ("ec2", "rds", "elbv2")


def per_account(core: Callable[[], botocore.session.Session], accounts: int) -> float:
    def build() -> None:
        session = boto3.Session(
            botocore_session=core(), aws_access_key_id="bench", aws_secret_access_key="bench"
        )
        for service in SERVICES:
            session.client(service, region_name="us-east-1")

    build()  # the first account pays for the imports either way
    started = time.process_time()
    for _ in range(accounts):
        build()
    return (time.process_time() - started) / accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    args = parser.parse_args()
    plain = per_account(botocore.session.get_session, args.accounts)
    shared = per_account(botocore_session, args.accounts)
    print(
        f"{args.accounts} accounts x {len(SERVICES)} clients: plain boto3 {plain * 1000:.0f} ms "
        f"CPU per account, Vigil's sessions {shared * 1000:.0f} ms ({plain / shared:.1f}x less)"
    )


if __name__ == "__main__":
    main()
