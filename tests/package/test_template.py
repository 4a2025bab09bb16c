"""The CloudFormation template: tables, functions, policies, the API stage, logs and alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.deployment import (
    FUNCTIONS,
    MAX_ZIP_BYTES,
    PERMISSIONS,
    STAGE_SETTINGS,
    STAGES,
    TABLES,
    chalice_policy,
    policy_path,
    table_operations,
    unzipped_size,
)

API_TIMEOUT_LIMIT = {"APIHandler": 29, "JwtAuth": 5}  # API Gateway's integration limit; a quick authorizer


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return result


def test_zip_fits_the_size_budget(package_dir: Path):
    zip_path = package_dir / "deployment.zip"
    assert zip_path.stat().st_size <= MAX_ZIP_BYTES == 25_000_000
    assert unzipped_size(zip_path) < 250 * 2**20


@pytest.mark.parametrize("table", list(TABLES))
def test_tables_are_on_demand_encrypted_recoverable_and_retained(template: dict[str, Any], table: str):
    resource = template["Resources"][table]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    table_properties = resource["Properties"]
    assert table_properties["BillingMode"] == "PAY_PER_REQUEST"
    assert table_properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table_properties["SSESpecification"] == {"SSEEnabled": True}


def test_revoked_tokens_expire_through_dynamodb_ttl(template: dict[str, Any]):
    ttl = properties(template, "RevokedTokensTable")["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_every_function_gets_the_table_names_from_the_tables(template: dict[str, Any], function: str):
    variables = properties(template, function)["Environment"]["Variables"]
    assert {variables[name]["Ref"] for name in variables if name.endswith("_TABLE")} == set(TABLES)


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_functions_run_python_313_on_arm64_traced_within_their_timeout(
    template: dict[str, Any], function: str
):
    function_properties = properties(template, function)
    assert function_properties["Runtime"] == "python3.13"
    assert function_properties["Architectures"] == ["arm64"]
    assert function_properties["Tracing"] == "Active"
    assert function_properties["Timeout"] <= API_TIMEOUT_LIMIT[function]


def test_authorizer_has_reserved_concurrency(template: dict[str, Any]):
    assert properties(template, "JwtAuth")["ReservedConcurrentExecutions"] >= 1


def test_authorizer_caches_nothing_so_logout_and_deletion_act_at_once(template: dict[str, Any]):
    assert '"authorizerResultTtlInSeconds": 0' in json.dumps(template)


def test_authorizer_function_imports_only_the_authorizer_module(template: dict[str, Any]):
    assert properties(template, "JwtAuth")["Handler"] == "chalicelib.auth.authorizer.jwt_auth"


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_each_function_logs_to_its_own_group_with_retention(template: dict[str, Any], function: str):
    name = properties(template, function)["FunctionName"]
    assert isinstance(name, str)  # fixed, so the log group's name is known before the function exists
    group = template["Resources"][f"{function}LogGroup"]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"] == {
        "LogGroupName": f"/aws/lambda/{name}",
        "RetentionInDays": STAGE_SETTINGS["dev"].log_retention_days,
    }
    role = properties(template, FUNCTIONS[function].role)
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    logs = [statement for statement in statements if statement["Action"][0].startswith("logs:")]
    assert logs == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [{"Fn::GetAtt": [f"{function}LogGroup", "Arn"]}],
        }
    ]


def test_api_is_regional_compressed_and_traced(template: dict[str, Any]):
    api = properties(template, "RestAPI")
    assert api["EndpointConfiguration"] == "REGIONAL"
    assert 0 <= api["MinimumCompressionSize"] <= 10_000
    assert api["TracingEnabled"] is True


def test_stage_is_throttled_and_login_more_tightly(template: dict[str, Any]):
    settings = {
        (s["ResourcePath"], s["HttpMethod"]): s for s in properties(template, "RestAPI")["MethodSettings"]
    }
    stage, login = settings["/*", "*"], settings["/~1auth~1token", "POST"]
    expected = STAGE_SETTINGS["dev"]
    assert (stage["ThrottlingRateLimit"], stage["ThrottlingBurstLimit"]) == (
        expected.api.rate,
        expected.api.burst,
    )
    assert (login["ThrottlingRateLimit"], login["ThrottlingBurstLimit"]) == (
        expected.login.rate,
        expected.login.burst,
    )
    assert login["ThrottlingRateLimit"] < stage["ThrottlingRateLimit"]
    assert login["ThrottlingBurstLimit"] < stage["ThrottlingBurstLimit"]


def test_access_log_is_one_json_object_per_request(template: dict[str, Any]):
    setting = properties(template, "RestAPI")["AccessLogSetting"]
    fields = json.loads(setting["Format"])
    assert {"requestId", "ip", "httpMethod", "resourcePath", "status", "responseLatency", "principal"} <= set(
        fields
    )
    assert all(value.startswith("$context.") for value in fields.values())
    group = setting["DestinationArn"]["Fn::GetAtt"][0]
    assert template["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
    assert properties(template, group)["RetentionInDays"] == STAGE_SETTINGS["dev"].log_retention_days


@pytest.mark.parametrize("role", [function.role for function in FUNCTIONS.values()])
def test_policies_grant_no_wildcard_but_for_xray(template: dict[str, Any], role: str):
    for policy in properties(template, role)["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            if statement["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]:
                assert statement["Resource"] == ["*"]  # X-Ray has no resource-level permissions
            else:
                assert "*" not in json.dumps(statement["Resource"])


@pytest.mark.parametrize("role", [function.role for function in FUNCTIONS.values()])
def test_functions_may_read_the_current_and_the_previous_secret_only(template: dict[str, Any], role: str):
    statements = properties(template, role)["Policies"][0]["PolicyDocument"]["Statement"]
    ssm = [statement for statement in statements if statement["Action"][0].startswith("ssm:")]
    assert [statement["Action"] for statement in ssm] == [["ssm:GetParameters"]]
    arns = [resource["Fn::Sub"] for resource in ssm[0]["Resource"]]
    assert [arn.split(":parameter", 1)[1] for arn in arns] == [
        "/ecg-insights/dev/jwt-secret",
        "/ecg-insights/dev/jwt-secret-previous",
    ]


def test_signing_secret_is_named_never_given(template: dict[str, Any]):
    config = json.loads((Path(__file__).resolve().parents[2] / ".chalice" / "config.json").read_text())
    assert "ECG_JWT_SECRET" not in json.dumps(config).replace("ECG_JWT_SECRET_PARAMETER", "")
    for function in FUNCTIONS:
        variables = properties(template, function)["Environment"]["Variables"]
        assert "ECG_JWT_SECRET" not in variables
        assert variables["ECG_JWT_SECRET_PARAMETER"] == "/ecg-insights/dev/jwt-secret"
    # No stack parameter resolves the secret: its value would show in describe-stacks.
    assert all(parameter["Type"] == "String" for parameter in template["Parameters"].values())
    assert "jwt-secret" not in json.dumps(template["Parameters"])


def alarms(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [resource["Properties"] for resource in resources_of(template, "AWS::CloudWatch::Alarm").values()]


def metric_of(alarm: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    return alarm["Namespace"], alarm["MetricName"], dimensions


def test_every_alarm_notifies_the_topic(template: dict[str, Any]):
    assert template["Resources"]["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""
    for alarm in alarms(template):
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_api_alarms_watch_the_5xx_rate_and_p99_latency_of_this_stage(template: dict[str, Any]):
    api = {
        "ApiName": properties(template, "RestAPI")["Name"],
        "Stage": properties(template, "RestAPI")["StageName"],
    }
    watched = {metric_of(alarm)[1]: alarm for alarm in alarms(template) if "Namespace" in alarm}
    assert metric_of(watched["5XXError"]) == ("AWS/ApiGateway", "5XXError", api)
    assert watched["5XXError"]["Statistic"] == "Average" and 0 < watched["5XXError"]["Threshold"] < 1
    assert metric_of(watched["Latency"]) == ("AWS/ApiGateway", "Latency", api)
    assert watched["Latency"]["ExtendedStatistic"] == "p99"
    assert (
        api["ApiName"]
        == properties(template, "RestAPI")["DefinitionBody"]["info"]["title"]
        == "ecg-insights-dev"
    )


def test_authorizer_failures_are_counted_from_the_access_log_and_alarmed(template: dict[str, Any]):
    metric_filter = properties(template, "AuthorizerFailuresMetric")
    assert metric_filter["LogGroupName"] == {"Ref": "ApiAccessLogGroup"}
    assert "AUTHORIZER_FAILURE" in metric_filter["FilterPattern"]
    assert "AUTHORIZER_CONFIGURATION_ERROR" in metric_filter["FilterPattern"]
    transformation = metric_filter["MetricTransformations"][0]
    alarm = properties(template, "AuthorizerFailuresAlarm")
    assert metric_of(alarm)[:2] == (transformation["MetricNamespace"], transformation["MetricName"])


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_each_function_alarms_on_errors_throttles_and_duration_near_its_timeout(
    template: dict[str, Any], function: str
):
    function_properties = properties(template, function)
    mine = {
        metric: alarm
        for alarm in alarms(template)
        if "Namespace" in alarm
        for namespace, metric, dimensions in [metric_of(alarm)]
        if namespace == "AWS/Lambda" and dimensions == {"FunctionName": function_properties["FunctionName"]}
    }
    assert set(mine) == {"Errors", "Throttles", "Duration"}
    assert mine["Duration"]["Statistic"] == "Maximum"
    assert mine["Duration"]["Threshold"] < function_properties["Timeout"] * 1000


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("metric", ["ThrottledRequests", "SystemErrors"])
def test_each_table_alarms_on_throttled_requests_and_system_errors(
    template: dict[str, Any], table: str, metric: str
):
    (alarm,) = [
        alarm
        for alarm in alarms(template)
        if "Metrics" in alarm
        and alarm["Metrics"][0]["MetricStat"]["Metric"]["MetricName"] == metric
        and alarm["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"][0]["Value"] == {"Ref": table}
    ]
    operations = [
        {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}["Operation"]
        for query in alarm["Metrics"]
        if "MetricStat" in query
    ]
    assert operations == table_operations(table)
    assert [query["Expression"] for query in alarm["Metrics"] if query["ReturnData"]] == ["SUM(METRICS())"]


def test_table_operations_name_what_cloudwatch_counts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(
        PERMISSIONS, "APIHandler", {"UsersTable": ["ConditionCheckItem", "GetItem", "PutItem"]}
    )
    monkeypatch.setitem(PERMISSIONS, "JwtAuth", {"UsersTable": ["BatchGetItem"]})
    assert table_operations("UsersTable") == ["BatchGetItem", "GetItem", "PutItem", "TransactWriteItems"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_committed_chalice_policies_match_the_generator(stage: str, function: str):
    assert json.loads(policy_path(stage, function).read_text()) == chalice_policy(stage, function)


def test_permissions_cover_only_tables_that_exist():
    for tables in PERMISSIONS.values():
        assert set(tables) <= set(TABLES)


def test_every_gateway_answer_has_a_code_and_the_security_headers(template: dict[str, Any]):
    responses = properties(template, "RestAPI")["GatewayResponses"]
    for response in responses.values():
        assert '"code": ' in response["ResponseTemplates"]["application/json"]
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Cache-Control"] == "'no-store'"
        assert headers["X-Content-Type-Options"] == "'nosniff'"
