"""The CloudFormation template: tables, bucket, queues, functions, policies, the API stage, logs and alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.deployment import (
    CHALICE_UPLOADS_QUEUE,
    FUNCTIONS,
    MAX_ZIP_BYTES,
    PERMISSIONS,
    QUEUE_PERMISSIONS,
    S3_NOT_FOUND_PERMISSIONS,
    S3_PERMISSIONS,
    SIGNALS_PREFIX,
    STAGE_SETTINGS,
    STAGES,
    TABLES,
    UPLOADS_PREFIX,
    chalice_policy,
    policy_path,
    table_operations,
    unzipped_size,
)

# API Gateway's integration limit; a quick authorizer; Lambda's maximum for a whole upload.
TIMEOUT_LIMIT = {"APIHandler": 29, "JwtAuth": 5, "ProcessUploads": 900}
OBJECTS = {
    prefix: {"Fn::Sub": f"${{SignalsBucket.Arn}}/{prefix}*"} for prefix in (SIGNALS_PREFIX, UPLOADS_PREFIX)
}
BUCKET = {"Fn::GetAtt": ["SignalsBucket", "Arn"]}  # the bucket itself, not its objects


def resources_of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return result


def statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = properties(template, FUNCTIONS[function].role)["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    return result


def grants(template: dict[str, Any], function: str, service: str = "") -> set[tuple[str, str]]:
    """(action, resource) pairs the function's role allows, of one service or all."""
    return {
        (action, json.dumps(resource, sort_keys=True))
        for statement in statements(template, function)
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
        if action.startswith(service)
        for resource in statement["Resource"]
    }


def granted(*pairs: tuple[str, Any]) -> set[tuple[str, str]]:
    return {(action, json.dumps(resource, sort_keys=True)) for action, resource in pairs}


def lifecycle_rule(template: dict[str, Any], rule_id: str) -> dict[str, Any]:
    rules = properties(template, "SignalsBucket")["LifecycleConfiguration"]["Rules"]
    (rule,) = [rule for rule in rules if rule["Id"] == rule_id]
    result: dict[str, Any] = rule
    return result


def event_source(template: dict[str, Any]) -> dict[str, Any]:
    events = properties(template, "ProcessUploads")["Events"]
    assert list(events) == ["ProcessUploadsSqsEventSource"]
    assert events["ProcessUploadsSqsEventSource"]["Type"] == "SQS"
    result: dict[str, Any] = events["ProcessUploadsSqsEventSource"]["Properties"]
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


def test_template_declares_a_table_for_each_model_and_no_other(template: dict[str, Any]):
    from chalicelib.store.models import ALL_MODELS

    assert set(resources_of(template, "AWS::DynamoDB::Table")) == set(TABLES)
    assert {table.model for table in TABLES.values()} == {model.__name__ for model in ALL_MODELS}


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
    assert function_properties["Timeout"] <= TIMEOUT_LIMIT[function]


def test_processing_function_has_lambdas_longest_timeout_and_one_full_vcpu(template: dict[str, Any]):
    function_properties = properties(template, "ProcessUploads")
    assert function_properties["Handler"] == "app.process_uploads"
    assert function_properties["Timeout"] == 900
    assert function_properties["MemorySize"] == 1769  # Lambda gives one vCPU per 1,769 MB


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
def test_policies_grant_no_wildcard_but_for_xray_and_object_prefixes(template: dict[str, Any], role: str):
    for policy in properties(template, role)["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert all("*" not in action for action in statement["Action"])
            if statement["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]:
                assert statement["Resource"] == ["*"]  # X-Ray has no resource-level permissions
            elif statement["Action"] == ["s3:ListBucket"]:
                assert statement["Resource"] == [BUCKET]
            elif statement["Action"][0].startswith("s3:"):
                assert len(statement["Resource"]) == 1 and statement["Resource"][0] in OBJECTS.values()
            else:
                assert "*" not in json.dumps(statement["Resource"])


@pytest.mark.parametrize("function", [name for name, function in FUNCTIONS.items() if function.reads_secret])
def test_functions_may_read_the_current_and_the_previous_secret_only(template: dict[str, Any], function: str):
    ssm = [
        statement for statement in statements(template, function) if statement["Action"][0].startswith("ssm:")
    ]
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


def test_permissions_cover_only_tables_prefixes_and_functions_that_exist():
    for tables in PERMISSIONS.values():
        assert set(tables) <= set(TABLES)
    for prefixes in S3_PERMISSIONS.values():
        assert set(prefixes) <= {SIGNALS_PREFIX, UPLOADS_PREFIX}
    assert set(PERMISSIONS) == set(FUNCTIONS)
    assert set(S3_PERMISSIONS) | set(QUEUE_PERMISSIONS) <= set(FUNCTIONS)
    assert set(S3_NOT_FOUND_PERMISSIONS) <= set(S3_PERMISSIONS)  # only a function that reaches objects


def test_every_gateway_answer_has_a_code_and_the_security_headers(template: dict[str, Any]):
    responses = properties(template, "RestAPI")["GatewayResponses"]
    for response in responses.values():
        assert '"code": ' in response["ResponseTemplates"]["application/json"]
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Cache-Control"] == "'no-store'"
        assert headers["X-Content-Type-Options"] == "'nosniff'"


def test_signals_bucket_is_encrypted_at_rest(template: dict[str, Any]):
    encryption = properties(template, "SignalsBucket")["BucketEncryption"]
    assert encryption == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }


def test_signals_bucket_blocks_public_access_and_acls(template: dict[str, Any]):
    bucket = properties(template, "SignalsBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_signals_bucket_refuses_every_request_without_tls(template: dict[str, Any]):
    policy = properties(template, "SignalsBucketPolicy")
    assert policy["Bucket"] == {"Ref": "SignalsBucket"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["SignalsBucket", "Arn"]},
        {"Fn::Sub": "${SignalsBucket.Arn}/*"},
    ]
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_signals_bucket_is_retained_and_unversioned(template: dict[str, Any]):
    bucket = template["Resources"]["SignalsBucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert "VersioningConfiguration" not in bucket["Properties"]  # a deleted ECG leaves no old version


def test_signals_bucket_name_is_unique_per_account_and_region_within_s3s_limit(template: dict[str, Any]):
    name = properties(template, "SignalsBucket")["BucketName"]["Fn::Sub"]
    assert name == "ecg-insights-dev-signals-${AWS::AccountId}-${AWS::Region}"
    longest = name.replace("${AWS::AccountId}", "123456789012").replace("${AWS::Region}", "ap-southeast-2")
    assert len(longest.replace("-dev-", "-prod-")) <= 63


def test_signals_never_committed_expire_after_a_day(template: dict[str, Any]):
    from chalicelib.store.signals import PENDING_TAG

    rule = lifecycle_rule(template, "expire-uncommitted-signals")
    assert rule["Status"] == "Enabled"
    assert rule["Prefix"] == SIGNALS_PREFIX
    key, value = PENDING_TAG.split("=")  # the tag the app writes signal objects with
    assert rule["TagFilters"] == [{"Key": key, "Value": value}] == [{"Key": "state", "Value": "pending"}]
    assert rule["ExpirationInDays"] == 1


def test_the_app_keys_objects_under_the_prefixes_the_rules_and_policies_name():
    from chalicelib.store import signals

    assert signals.signal_key("alice", "a").startswith(SIGNALS_PREFIX + "alice/a/")
    assert signals.upload_key("alice", "a").startswith(UPLOADS_PREFIX + "alice/a/")


def test_uploads_left_unprocessed_expire_after_two_days(template: dict[str, Any]):
    rule = lifecycle_rule(template, "expire-unprocessed-uploads")
    assert rule["Status"] == "Enabled"
    assert rule["Prefix"] == UPLOADS_PREFIX
    assert "TagFilters" not in rule
    assert rule["ExpirationInDays"] == 2


def test_incomplete_multipart_uploads_are_aborted_after_a_day(template: dict[str, Any]):
    rule = lifecycle_rule(template, "abort-incomplete-multipart-uploads")
    assert rule["Status"] == "Enabled"
    assert "Prefix" not in rule and "TagFilters" not in rule  # the whole bucket
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_browsers_may_put_files_with_a_presigned_url_from_any_page(template: dict[str, Any]):
    (rule,) = properties(template, "SignalsBucket")["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["PUT"]
    assert rule["AllowedOrigins"] == ["*"]
    assert rule["ExposedHeaders"] == ["ETag"]


def test_make_run_gives_its_bucket_the_templates_cors_rule(template: dict[str, Any]):
    from devtools.local_stack import UPLOADS_CORS_RULE

    (rule,) = properties(template, "SignalsBucket")["CorsConfiguration"]["CorsRules"]
    in_api_terms = {"Id": "ID", "ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds"}
    assert {in_api_terms.get(name, name): value for name, value in rule.items()} == UPLOADS_CORS_RULE


def test_new_uploads_notify_the_uploads_queue(template: dict[str, Any]):
    notifications = properties(template, "SignalsBucket")["NotificationConfiguration"]
    assert list(notifications) == ["QueueConfigurations"]
    (notification,) = notifications["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"Fn::GetAtt": ["UploadsQueue", "Arn"]}
    assert notification["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "uploads/"}]}}


def test_only_this_accounts_signals_bucket_may_send_to_the_uploads_queue(template: dict[str, Any]):
    policy = properties(template, "UploadsQueuePolicy")
    assert policy["Queues"] == [{"Ref": "UploadsQueue"}]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == {"Fn::GetAtt": ["UploadsQueue", "Arn"]}
    bucket_name = properties(template, "SignalsBucket")["BucketName"]["Fn::Sub"]
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket_name}"}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_signals_bucket_is_created_after_the_queue_policy_its_notification_needs(template: dict[str, Any]):
    # S3 checks that it may send to the queue when the notification is configured.
    assert template["Resources"]["SignalsBucket"]["DependsOn"] == ["UploadsQueuePolicy"]


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_functions_that_use_the_bucket_get_its_name_from_the_bucket(template: dict[str, Any], function: str):
    variables = properties(template, function)["Environment"]["Variables"]
    if function in S3_PERMISSIONS:
        assert variables["ECG_SIGNALS_BUCKET"] == {"Ref": "SignalsBucket"}
    else:
        assert "ECG_SIGNALS_BUCKET" not in variables


def test_uploads_queue_is_encrypted_and_hides_a_message_for_six_function_timeouts(template: dict[str, Any]):
    queue = properties(template, "UploadsQueue")
    assert queue["QueueName"] == "ecg-insights-dev-uploads"
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["VisibilityTimeout"] >= 6 * properties(template, "ProcessUploads")["Timeout"]


def test_a_notification_failing_five_times_moves_to_the_dead_letter_queue(template: dict[str, Any]):
    from chalicelib.store.queue import DELIVERY_ATTEMPTS

    assert DELIVERY_ATTEMPTS == 5  # the last delivery marks the ECG failed rather than trying again
    redrive = properties(template, "UploadsQueue")["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["UploadsDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }


def test_dead_letter_queue_is_encrypted_and_keeps_messages_14_days(template: dict[str, Any]):
    dead_letters = properties(template, "UploadsDeadLetterQueue")
    assert dead_letters["SqsManagedSseEnabled"] is True
    assert dead_letters["MessageRetentionPeriod"] == 14 * 24 * 3600
    # A message keeps its first enqueue time in the dead-letter queue: it must outlive the source's retention.
    assert (
        dead_letters["MessageRetentionPeriod"]
        > properties(template, "UploadsQueue")["MessageRetentionPeriod"]
    )


def test_a_message_in_the_dead_letter_queue_alarms(template: dict[str, Any]):
    alarm = properties(template, "UploadsDeadLetterAlarm")
    assert metric_of(alarm) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": properties(template, "UploadsDeadLetterQueue")["QueueName"]},
    )
    assert alarm["Statistic"] == "Maximum"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)


def test_an_upload_waiting_half_an_hour_alarms(template: dict[str, Any]):
    alarm = properties(template, "UploadsAgeAlarm")
    assert metric_of(alarm) == (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        {"QueueName": properties(template, "UploadsQueue")["QueueName"]},
    )
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == 1800


def test_processing_function_consumes_the_stages_queue_one_message_at_a_time(template: dict[str, Any]):
    source = event_source(template)
    # Exactly one intrinsic: Chalice's Fn::Sub of the queue named in app.py is replaced, not merged beside it.
    assert source["Queue"] == {"Fn::Sub": "${UploadsQueue.Arn}"}
    assert source["BatchSize"] == 1


def test_processing_concurrency_is_capped_by_the_event_source_not_a_reservation(template: dict[str, Any]):
    assert event_source(template)["ScalingConfig"] == {
        "MaximumConcurrency": STAGE_SETTINGS["dev"].processing_concurrency
    }
    assert "ReservedConcurrentExecutions" not in properties(template, "ProcessUploads")


def test_chalice_names_the_queue_app_py_consumes():
    import app

    assert app.UPLOADS_QUEUE == CHALICE_UPLOADS_QUEUE


def test_processing_function_role_grants_exactly_its_actions(template: dict[str, Any]):
    ecgs = {"Fn::GetAtt": ["EcgsTable", "Arn"]}
    queue = {"Fn::GetAtt": ["UploadsQueue", "Arn"]}
    assert grants(template, "ProcessUploads") == granted(
        ("dynamodb:GetItem", ecgs),
        ("dynamodb:UpdateItem", ecgs),
        ("s3:GetObject", OBJECTS["uploads/"]),
        ("s3:DeleteObject", OBJECTS["uploads/"]),
        ("s3:PutObject", OBJECTS["signals/"]),
        ("s3:PutObjectTagging", OBJECTS["signals/"]),
        ("s3:DeleteObjectTagging", OBJECTS["signals/"]),
        ("s3:AbortMultipartUpload", OBJECTS["signals/"]),
        ("s3:DeleteObject", OBJECTS["signals/"]),
        ("s3:ListBucket", BUCKET),  # a missing key answers 404 NoSuchKey, not 403
        ("sqs:ReceiveMessage", queue),
        ("sqs:DeleteMessage", queue),
        ("sqs:GetQueueAttributes", queue),
        ("sqs:ChangeMessageVisibility", queue),
        ("logs:CreateLogStream", {"Fn::GetAtt": ["ProcessUploadsLogGroup", "Arn"]}),
        ("logs:PutLogEvents", {"Fn::GetAtt": ["ProcessUploadsLogGroup", "Arn"]}),
        ("xray:PutTelemetryRecords", "*"),
        ("xray:PutTraceSegments", "*"),
    )


def test_api_handler_role_reaches_signals_and_uploads_by_prefix_and_the_bucket_only_to_list_it(
    template: dict[str, Any],
):
    assert grants(template, "APIHandler", "s3:") == granted(
        ("s3:PutObject", OBJECTS["signals/"]),
        ("s3:PutObjectTagging", OBJECTS["signals/"]),
        ("s3:DeleteObjectTagging", OBJECTS["signals/"]),
        ("s3:GetObject", OBJECTS["signals/"]),
        ("s3:DeleteObject", OBJECTS["signals/"]),
        ("s3:PutObject", OBJECTS["uploads/"]),  # the presigned upload URLs carry it
        ("s3:DeleteObject", OBJECTS["uploads/"]),
        ("s3:ListBucket", BUCKET),  # a missing key answers 404 NoSuchKey, not 403
    )
    assert grants(template, "APIHandler", "sqs:") == set()


def test_authorizer_role_reaches_neither_bucket_nor_queue(template: dict[str, Any]):
    assert grants(template, "JwtAuth", "s3:") == grants(template, "JwtAuth", "sqs:") == set()


@pytest.mark.parametrize("function", ["APIHandler", "ProcessUploads"])
def test_api_handler_and_processing_roles_may_list_the_signals_bucket(
    template: dict[str, Any], function: str
):
    # Without s3:ListBucket, S3 answers a GetObject or tagging call on a missing key 403
    # AccessDenied, not the 404 NoSuchKey chalicelib/store/signals.py handles.
    listing = {grant for grant in grants(template, function, "s3:") if grant[0] == "s3:ListBucket"}
    assert listing == granted(("s3:ListBucket", BUCKET))


def test_authorizer_role_may_not_list_the_signals_bucket(template: dict[str, Any]):
    assert not any(action == "s3:ListBucket" for action, _ in grants(template, "JwtAuth"))


@pytest.mark.parametrize("stage", STAGES)
def test_chalice_policies_let_the_same_roles_list_the_bucket_by_name(stage: str):
    bucket = f"arn:aws:s3:::ecg-insights-{stage}-signals"
    listing = {
        function: [
            statement["Resource"]
            for statement in chalice_policy(stage, function)["Statement"]
            if "s3:ListBucket" in statement["Action"]
        ]
        for function in FUNCTIONS
    }
    assert listing == {"APIHandler": [[bucket]], "JwtAuth": [], "ProcessUploads": [[bucket]]}


def test_processing_function_may_read_no_secret(template: dict[str, Any]):
    assert grants(template, "ProcessUploads", "ssm:") == set()


def test_the_local_stack_queues_and_runs_uploads_as_the_template_does(template: dict[str, Any]):
    from devtools import local_queue

    queue = properties(template, "UploadsQueue")
    assert local_queue.queue_name("dev") == queue["QueueName"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == local_queue.DELIVERY_ATTEMPTS
    assert local_queue.UPLOADS_PREFIX == UPLOADS_PREFIX
    function = properties(template, "ProcessUploads")
    assert (
        function["Timeout"],
        function["MemorySize"],
    ) == (local_queue.FUNCTION_TIMEOUT_SECONDS, local_queue.FUNCTION_MEMORY_MB)
