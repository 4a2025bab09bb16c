"""The local DynamoDB (moto with devtools/dynamodb_emulation.py) keeps DynamoDB's semantics:
a cancelled transaction changes nothing and says why per item, and items come back exactly."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

TABLE = "emulation-test"


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for sk, count in (("kept", "1"), ("doomed", "1"), ("guard", "1")):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "p"}, "sk": {"S": sk}, "count": {"N": count}})
    return client


def everything(client: Any) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=TABLE)["Items"], key=lambda item: item["sk"]["S"])


def key(sk: str) -> dict[str, Any]:
    return {"pk": {"S": "p"}, "sk": {"S": sk}}


def writes(check_passes: bool) -> list[dict[str, Any]]:
    return [
        {"Put": {"TableName": TABLE, "Item": {**key("new"), "count": {"N": "1"}}}},
        {
            "Update": {
                "TableName": TABLE,
                "Key": key("kept"),
                "UpdateExpression": "SET #count = #count + :one",
                "ExpressionAttributeNames": {"#count": "count"},
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": TABLE, "Key": key("doomed")}},
        {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": key("guard" if check_passes else "absent"),
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]


def test_a_cancelled_transaction_changes_nothing_and_gives_a_reason_per_item(dynamodb: Any):
    before = everything(dynamodb)
    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=writes(check_passes=False))
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert everything(dynamodb) == before


def test_a_transaction_that_names_an_item_twice_is_refused_and_changes_nothing(dynamodb: Any):
    before = everything(dynamodb)
    twice = [*writes(check_passes=True)[:3], {"Delete": {"TableName": TABLE, "Key": key("new")}}]
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(TransactItems=twice)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert everything(dynamodb) == before


def test_a_transaction_that_passes_applies_every_write(dynamodb: Any):
    dynamodb.transact_write_items(TransactItems=writes(check_passes=True))
    assert [(item["sk"]["S"], item["count"]["N"]) for item in everything(dynamodb)] == [
        ("guard", "1"),
        ("kept", "2"),
        ("new", "1"),
    ]


def test_other_items_and_later_transactions_are_unaffected_by_a_cancellation(dynamodb: Any):
    for index in range(20):
        dynamodb.put_item(TableName=TABLE, Item={**key(f"other-{index:02d}"), "count": {"N": str(index)}})
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=writes(check_passes=False))
    dynamodb.transact_write_items(TransactItems=writes(check_passes=True))
    items = {item["sk"]["S"]: item["count"]["N"] for item in everything(dynamodb)}
    assert items == {
        "guard": "1",
        "kept": "2",
        "new": "1",
        **{f"other-{index:02d}": str(index) for index in range(20)},
    }


EVERY_TYPE = {
    **key("typed"),
    "s": {"S": "text ✓"},
    "empty": {"S": ""},
    "n": {"N": "-12.5"},
    "b": {"B": b"\x00\x01binary\xff"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x00", b"\xff\xfe"]},
    "yes": {"BOOL": True},
    "no": {"BOOL": False},
    "nothing": {"NULL": True},
    "list": {"L": [{"N": "1"}, {"S": "two"}, {"B": b"3"}, {"L": []}, {"M": {}}]},
    "map": {"M": {"inner": {"M": {"deep": {"L": [{"BOOL": False}, {"NULL": True}]}}}, "n": {"N": "0"}}},
}


def test_every_attribute_type_comes_back_exactly(dynamodb: Any):
    dynamodb.put_item(TableName=TABLE, Item=EVERY_TYPE)

    def normalised(item: dict[str, Any]) -> str:
        return json.dumps(item, sort_keys=True, default=repr)

    expected = normalised(EVERY_TYPE)
    assert normalised(dynamodb.get_item(TableName=TABLE, Key=key("typed"))["Item"]) == expected
    queried = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p AND sk = :s",
        ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": "typed"}},
    )["Items"]
    assert [normalised(item) for item in queried] == [expected]
    batch = dynamodb.batch_get_item(RequestItems={TABLE: {"Keys": [key("typed")]}})["Responses"][TABLE]
    assert [normalised(item) for item in batch] == [expected]
    transact = dynamodb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key("typed")}}])
    assert normalised(transact["Responses"][0]["Item"]) == expected


def test_attribute_values_are_written_as_moto_writes_them(aws: None, monkeypatch: pytest.MonkeyPatch):
    """The direct writer of AttributeValues gives the JSON moto's shape-by-shape serialiser gives."""
    from moto.core.serialize import (
        BaseJSONSerializer,
        JSONSerializer,
        ResponseSerializer,
        XFormedAttributePicker,
    )
    from moto.core.utils import get_service_model

    operation = get_service_model("dynamodb").operation_model("GetItem")
    stored = {name: value for name, value in EVERY_TYPE.items()}

    def body() -> Any:
        serializer = JSONSerializer(
            operation_model=operation, pretty_print=False, value_picker=XFormedAttributePicker()
        )
        return json.loads(serializer.serialize({"Item": stored, "ConsumedCapacity": None})["body"])

    direct = body()
    monkeypatch.setattr(BaseJSONSerializer, "_serialize", ResponseSerializer._serialize)
    assert direct == body()
