"""Lambda functions → function against moto (runtime, last modified, role, tags); paging on a
loopback server that answers two recorded ListFunctions pages, because moto's ListFunctions
returns every function in one page whatever MaxItems says."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from collectors.aws import AwsCollector, lambda_
from tests.factories.aws import collect, scope, seed_client, source

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
    return buffer.getvalue()


def test_functions_with_runtime_role_and_tags(moto: str) -> None:
    role = seed_client(moto, "iam").create_role(
        RoleName="thumbnails", AssumeRolePolicyDocument=json.dumps(TRUST)
    )["Role"]["Arn"]
    client = seed_client(moto, "lambda")
    for name, runtime in (("thumbnails", "python3.7"), ("resize", "python3.12")):
        client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": _zip()},
            Tags={"team": "media"},
        )

    functions = {r.native_id: r for r in collect(AwsCollector(source(moto)), scope("function"))}

    thumbnails = functions["thumbnails"]
    assert thumbnails.tags == {"team": "media"}
    assert thumbnails.attributes["runtime"] == "python3.7"
    assert thumbnails.attributes["role"] == role
    assert thumbnails.attributes["last_modified"].endswith("Z")
    assert functions["resize"].attributes["runtime"] == "python3.12"


ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
PAGES: dict[str, tuple[dict[str, str], str | None]] = {
    # marker → (the page's one function, the next marker)
    "": ({"FunctionName": "a", "Runtime": "nodejs16.x"}, "m1"),
    "m1": ({"FunctionName": "b", "Runtime": "go1.x"}, "m2"),
    "m2": ({"FunctionName": "c", "PackageType": "Image"}, None),
}

MAX_ITEMS: list[int] = []


class _LambdaPages(BaseHTTPRequestHandler):
    """ListFunctions answered by marker from PAGES; ListTags answers a Name tag."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # http.server dispatches on this name
        url = urlparse(self.path)
        if url.path.startswith("/2017-03-31/tags/"):
            name = unquote(url.path).rsplit(":", 1)[-1]
            body: dict[str, object] = {"Tags": {"Name": f"fn-{name}"}}
        else:
            query = parse_qs(url.query)
            MAX_ITEMS.append(int(query["MaxItems"][0]))
            function, next_marker = PAGES[query.get("Marker", [""])[0]]
            body = {"Functions": [function | {"FunctionArn": ARN + function["FunctionName"]}]}
            if next_marker:
                body["NextMarker"] = next_marker
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def lambda_pages(aws_credentials: None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LambdaPages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_functions_page_past_one_page(lambda_pages: str) -> None:
    MAX_ITEMS.clear()
    pages = list(AwsCollector(source(lambda_pages)).collect(scope("function")))

    assert MAX_ITEMS == [lambda_.PAGE_SIZE] * 3
    assert [[r.native_id for r in page] for page in pages] == [["a"], ["b"], ["c"]]
    assert pages[0][0].name == "fn-a"
    assert pages[2][0].attributes["runtime"] is None  # a container image has no runtime
    assert pages[2][0].attributes["package_type"] == "Image"
