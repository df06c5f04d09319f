"""The local stack under load (issue 8): connection bursts, timeouts counted on the
function's own run time, bounded memory in moto, in-process dispatch to moto.

These assert the mechanisms (listen queue depth, tracked instances, the undo log, the
time a function waited), not timings: `benchmarks/bench_local_load.py` measures those."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from acme_eventsourcing.local.functions import Invocation
from acme_eventsourcing.local.http_api import ApiServer
from acme_eventsourcing.local.model import ApiDecl, RouteDecl
from decls import function_decl

BURST = 32


class _Runtime:
    def invoke(self, logical: str, event: Any, trigger: str) -> Invocation:
        return Invocation(logical, trigger, "req", 0.0, 1.0, True, {"path": event["rawPath"]}, None, None)


def test_a_burst_of_32_connections_is_queued_and_every_one_answered() -> None:
    route = RouteDecl(route_key="GET /ping", method="GET", path="/ping", function=function_decl("api"), authorizer=None, scopes=())
    api = ApiDecl(logical="api", api_id="abc123", stage="$default", routes=(route,), cors=None)
    server = ApiServer(api, host="127.0.0.1", port=0, runtime=_Runtime(), issuer_for=lambda i, a: None, account_id="1")  # type: ignore[arg-type]
    host, port = server.server.server_address[:2]
    clients: list[socket.socket] = []
    try:
        # nobody accepts yet: every connection must fit in the listen queue (the default
        # backlog of 5 leaves the rest unanswered, then reset, under a burst)
        for _ in range(BURST):
            clients.append(socket.create_connection((host, port), timeout=1.0))
        for c in clients:
            c.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        server.start()
        answers = []
        for c in clients:
            c.settimeout(10)
            data = b""
            while chunk := c.recv(65536):
                data += chunk
            answers.append(data)
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
        assert {json.loads(a.split(b"\r\n\r\n", 1)[1])["path"] for a in answers} == {"/ping"}
    finally:
        for c in clients:
            c.close()
        server.stop()


# ---------------------------------------------------------------------- memory: moto patches


def _backend_with_table() -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend(region_name="us-east-1", account_id="123456789012")
    backend.create_table(
        "t",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        global_indexes=None,
        indexes=None,
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=None,
        warm_throughput=None,
    )
    return backend


def _put(pk: str, sk: int, **attrs: str) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "sk": {"N": str(sk)}, **{k: {"S": v} for k, v in attrs.items()}}
    return {"Put": {"TableName": "t", "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def test_moto_internals_the_patches_replace_are_the_pinned_ones() -> None:
    import hashlib
    import inspect

    import moto
    from acme_eventsourcing.local import moto_patches
    from moto.core import common_models

    assert moto.__version__ == moto_patches.MOTO_VERSION, (
        "moto changed: re-check acme_eventsourcing/local/moto_patches.py against its new internals"
    )
    source = inspect.getsource(moto_patches.MOTO_TRANSACT_WRITE_ITEMS)
    assert "copy.deepcopy(\n                    self.tables[table_name]\n                )" in source
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == "81db2cb7d94e39c9"
    assert "cls.instances_tracked.append(instance)" in inspect.getsource(common_models.BaseModel)
    table_sources = (inspect.getsource(moto_patches.MOTO_TABLE_QUERY), inspect.getsource(moto_patches.MOTO_TABLE_ALL_ITEMS))
    assert [hashlib.sha256(s.encode()).hexdigest()[:16] for s in table_sources] == ["002b4d00be6df07c", "c80d2ee3c896acd0"]
    assert "for item in self.all_items()" in table_sources[0]
    # the dispatch helpers cached per class / name are pure functions of their argument
    assert "inspect.getmembers(clazz, predicate=predicate)" in inspect.getsource(moto_patches.MOTO_METHOD_NAMES)
    assert "result += char.lower()" in inspect.getsource(moto_patches.MOTO_CAMELCASE_TO_UNDERSCORES)
    # the backend lookup and the DynamoDB answer encoding the fast paths stand in for
    fast_path_sources = (inspect.getsource(moto_patches.MOTO_BACKEND_GETITEM), inspect.getsource(moto_patches.MOTO_DYNAMODB_SERIALIZED))
    assert [hashlib.sha256(s.encode()).hexdigest()[:16] for s in fast_path_sources] == ["16766ef9c002fbc6", "af486a0ef1327162"]


def test_moto_dispatch_caches_answer_as_moto_does() -> None:
    from acme_eventsourcing.local import moto_patches
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler

    moto_patches.install()
    assert responses.method_names_from_class(DynamoHandler) == moto_patches.MOTO_METHOD_NAMES(DynamoHandler)
    assert "transact_write_items" in responses.method_names_from_class(DynamoHandler)
    for name in ("TransactWriteItems", "GetShardIterator", "PutEvents", "ReceiveMessage"):
        assert responses.camelcase_to_underscores(name) == moto_patches.MOTO_CAMELCASE_TO_UNDERSCORES(name)


def test_moto_keeps_no_tracked_instances_and_no_table_copies() -> None:
    from acme_eventsourcing.local import moto_patches
    from moto.dynamodb.exceptions import TransactionCanceledException

    moto_patches.install()
    backend = _backend_with_table()
    table = backend.tables["t"]
    for sk in range(200):  # each transaction writes a new item, then one conflicts
        backend.transact_write_items([_put("stream", sk, data="x" * 100)])
        with pytest.raises(TransactionCanceledException):
            backend.transact_write_items([_put("other", sk), _put("stream", sk)])
    assert backend.tables["t"] is table, "a failed transaction swapped in a copy of the table"
    assert moto_patches.tracked_instances() == 0
    assert len(table.stream_shard.items) == 200  # the rolled-back puts left no stream record


def test_a_failed_transaction_puts_back_exactly_what_it_changed() -> None:
    from acme_eventsourcing.local import moto_patches
    from moto.dynamodb.exceptions import TransactionCanceledException

    moto_patches.install()
    backend = _backend_with_table()
    backend.transact_write_items([_put("a", 1, v="old"), _put("b", 1, v="keep"), _put("d", 1)])
    shard = backend.tables["t"].stream_shard
    before = (len(shard.items), [i.to_json() for i in backend.tables["t"].all_items()])
    update = {
        "Update": {
            "TableName": "t",
            "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
            "UpdateExpression": "SET v = :n",
            "ExpressionAttributeValues": {":n": {"S": "new"}},
        }
    }
    delete = {"Delete": {"TableName": "t", "Key": {"pk": {"S": "b"}, "sk": {"N": "1"}}}}
    try:
        backend.transact_write_items([update, delete, _put("c", 1), _put("a", 2), _put("d", 1)])  # the last one conflicts
    except TransactionCanceledException as e:
        reasons = json.loads(e.description)["CancellationReasons"]
        assert [r["Code"] for r in reasons] == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    else:
        raise AssertionError("the transaction should have been cancelled")
    assert (len(shard.items), [i.to_json() for i in backend.tables["t"].all_items()]) == before
    backend.transact_write_items([update])  # the stream numbering goes on where it was
    assert [r.record["dynamodb"]["SequenceNumber"] for r in shard.items[-2:]] == [
        str(shard.starting_sequence_number + n) for n in (len(shard.items) - 2, len(shard.items) - 1)
    ]


# ---------------------------------------------------------------------- in-process moto, timeouts


@pytest.fixture(scope="module")
def moto_server() -> Any:
    from acme_eventsourcing.local.backend import MotoServer

    server = MotoServer()
    server.start()
    server.reset()
    yield server
    server.stop()


def _runtime(tmp_path: Any, moto_url: str, source: str, timeout_s: int) -> Any:
    from acme_eventsourcing.local.backend import FAKE_CREDENTIALS
    from acme_eventsourcing.local.functions import FunctionRuntime

    (tmp_path / "probe.py").write_text(source)
    decl = function_decl("probe", timeout_s=timeout_s)
    decl = type(decl)(**{**decl.__dict__, "handler": "probe.handler", "files": {"probe.py": tmp_path / "probe.py"}})
    env = {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": moto_url, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_REGION": "us-east-1"}
    runtime = FunctionRuntime([decl], lambda_environment=env, on_invocation=lambda i: None, on_error=lambda m: None, on_output=print)
    runtime.start()
    return runtime


def test_boto3_calls_to_the_local_moto_are_answered_in_process(moto_server: Any) -> None:
    import boto3
    from acme_eventsourcing.local.backend import FAKE_CREDENTIALS

    creds = {k.lower(): v for k, v in FAKE_CREDENTIALS.items()}
    sqs = boto3.session.Session().client("sqs", endpoint_url=moto_server.url, region_name="us-east-1", **creds)
    before = moto_server.in_process.answered
    url = sqs.create_queue(QueueName="probe")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["hello"]
    assert moto_server.in_process.answered == before + 3, "the calls went over HTTP"
    assert url.startswith(moto_server.url + "/"), "moto derives queue URLs from the request's (local) URL, as over HTTP"


def test_waiting_for_moto_s_dynamodb_lock_is_not_run_time(tmp_path: Any, moto_server: Any) -> None:
    """An invocation that waited behind other requests longer than its timeout, but ran
    briefly, is not a timeout (it was reported as Sandbox.Timedout after it committed)."""
    import threading
    import time

    runtime = _runtime(
        tmp_path,
        moto_server.url,
        "import boto3\n\ndef handler(event, context):\n    return boto3.client('dynamodb').list_tables()['TableNames']\n",
        timeout_s=1,
    )
    try:
        # warm-up: the first call loads boto3's models (over 1 s on a busy machine); the warm-up
        # is not what this test is about, so it may take a few tries: then the next run is brief
        warm = [runtime.invoke("probe", {}, "warm-up") for _ in range(3)]
        assert any(w.ok for w in warm), warm
        outcome: list[Invocation] = []
        with moto_server.dynamodb_lock:  # other requests hold moto's DynamoDB for 2.5 s
            worker = threading.Thread(target=lambda: outcome.append(runtime.invoke("probe", {}, "test")))
            worker.start()
            time.sleep(2.5)
        worker.join(30)
        (invocation,) = outcome
        assert invocation.duration_ms > 1000, "longer than its timeout on the wall clock"
        assert invocation.duration_ms - invocation.waited_ms < 1000, "but most of it waiting for the lock"
        assert (invocation.ok, invocation.error_type) == (True, None)
    finally:
        runtime.stop()


def test_dynamodb_requests_wait_for_the_tables_they_name_and_only_those(tmp_path: Any, moto_server: Any) -> None:
    """A request holds the lock of every table it names: another table's requests run
    meanwhile; one naming no table (ListTables) or reshaping a table waits for all."""
    import json
    import threading
    import time

    import boto3
    from acme_eventsourcing.local.backend import FAKE_CREDENTIALS

    creds = {k.lower(): v for k, v in FAKE_CREDENTIALS.items()}
    ddb = boto3.session.Session().client("dynamodb", endpoint_url=moto_server.url, region_name="us-east-1", **creds)
    for name in ("locked-a", "locked-b"):
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    put = {"Item": {"pk": {"S": "x"}}}
    calls = {
        "a": lambda: ddb.put_item(TableName="locked-a", **put),
        "b": lambda: ddb.put_item(TableName="locked-b", **put),
        "b-by-arn": lambda: ddb.get_item(TableName="arn:aws:dynamodb:us-east-1:123456789012:table/locked-b", Key={"pk": {"S": "x"}}),
        "a+b": lambda: ddb.transact_write_items(TransactItems=[{"Put": {"TableName": t, **put}} for t in ("locked-a", "locked-b")]),
        "batch-a": lambda: ddb.batch_write_item(RequestItems={"locked-a": [{"PutRequest": put}]}),
        "list": lambda: ddb.list_tables(),
    }
    done: dict[str, float] = {}
    with moto_server.table_locks.guard(["locked-a"]):  # a request on locked-a is under way
        held = time.perf_counter()
        threads = [
            threading.Thread(target=lambda k=k, f=f: (f(), done.__setitem__(k, time.perf_counter() - held))) for k, f in calls.items()
        ]
        for t in threads:
            t.start()
        time.sleep(1.0)
        waiting = {k for k in calls if k not in done}
    for t in threads:
        t.join(30)
    assert waiting == {"a", "a+b", "batch-a", "list"}, done  # locked-b's requests did not wait
    assert set(done) == set(calls)
    locks = moto_server.table_locks
    assert locks.for_request("DynamoDB_20120810.CreateTable", json.dumps({"TableName": "new"})) is locks.exclusive
    assert locks.for_request("DynamoDB_20120810.ExecuteStatement", json.dumps({"Statement": "SELECT * FROM x"})) is locks.exclusive


def test_each_boto3_call_runs_once_on_moto_even_from_a_session_older_than_the_server() -> None:
    import boto3
    from acme_eventsourcing.local.backend import FAKE_CREDENTIALS, MotoServer

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    server = MotoServer()
    server.start()  # after the default session exists (a second local stack in a process)
    try:
        creds = {k.lower(): v for k, v in FAKE_CREDENTIALS.items()}
        sqs = boto3.client("sqs", endpoint_url=server.url, region_name="us-east-1", **creds)
        url = sqs.create_queue(QueueName="once")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="one")
        count = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        assert count["ApproximateNumberOfMessages"] == "1"
    finally:
        server.stop()


def test_a_base_table_query_reads_its_partition_only_and_answers_as_moto_did(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's Query sorted the whole table per call; patched, it reads the partition, and every
    answer (ranges, both orders, pages, filters, an index) is what the whole table gives."""
    import boto3
    from acme_eventsourcing.local import moto_patches
    from moto import mock_aws

    moto_patches.install()
    whole_table_reads: list[str] = []
    original = moto_patches.MOTO_TABLE_ALL_ITEMS
    monkeypatch.setattr(moto_patches, "MOTO_TABLE_ALL_ITEMS", lambda table: whole_table_reads.append(table.name) or original(table))
    with mock_aws():
        db = boto3.client("dynamodb", region_name="us-east-1")
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        rows = [(f"p{p}", n) for p in range(30) for n in range(12)]
        for pk, n in rows:
            db.put_item(TableName="t", Item={"pk": {"S": pk}, "sk": {"N": str(n)}, "g": {"S": f"g{n % 3}"}, "odd": {"BOOL": n % 2 == 1}})

        def query(**kw: Any) -> list[tuple[str, int]]:
            out, start = [], None
            while True:
                page = db.query(TableName="t", **kw, **({"ExclusiveStartKey": start} if start else {}))
                out += [(i["pk"]["S"], int(i["sk"]["N"])) for i in page["Items"]]
                if not (start := page.get("LastEvaluatedKey")):
                    return out

        values = {":p": {"S": "p7"}, ":lo": {"N": "3"}, ":hi": {"N": "9"}, ":t": {"BOOL": True}}
        assert query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": values[":p"]}) == [("p7", n) for n in range(12)]
        assert query(
            KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={k: values[k] for k in (":p", ":lo", ":hi")},
            ScanIndexForward=False,
            Limit=2,
        ) == [("p7", n) for n in range(9, 2, -1)]
        assert query(
            KeyConditionExpression="pk = :p",
            FilterExpression="odd = :t",
            ExpressionAttributeValues={k: values[k] for k in (":p", ":t")},
            Limit=5,
        ) == [("p7", n) for n in range(1, 12, 2)]
        assert query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "nobody"}}) == []
        assert whole_table_reads == [], "a base-table Query read the whole table"
        by_g = query(IndexName="by-g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "g1"}})
        assert sorted(by_g) == sorted((pk, n) for pk, n in rows if n % 3 == 1)
        assert whole_table_reads, "an index query must still see every item"
