"""Drives the local EventBridge (moto in server mode) for the event-bus test.

    event_rules.py setup ENDPOINT BUS TEMPLATE
        Creates the bus, and for every AWS::Events::Rule of the CloudFormation TEMPLATE (the
        repository's example rules) a rule on the bus with the template's own EventPattern,
        targeting an SQS queue named after the rule's logical id. Prints {logical id: pattern}.
    event_rules.py drain ENDPOINT SCHEMA
        Reads every queue empty and checks each event's `detail` against the JSON Schema in
        SCHEMA. Prints {logical id: [{"source", "detail-type", "detail", "errors"}]}.
"""

import json
import sys

import boto3
import jsonschema
import yaml


class CloudFormationLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub, !GetAtt and the like as the plain node under the tag."""


def _untagged(loader, _suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


CloudFormationLoader.add_multi_constructor("!", _untagged)


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def setup(endpoint, bus, template_path):
    with open(template_path) as file:
        template = yaml.load(file, Loader=CloudFormationLoader)
    events = client("events", endpoint)
    sqs = client("sqs", endpoint)
    events.create_event_bus(Name=bus)
    rules = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        pattern = resource["Properties"]["EventPattern"]
        queue = sqs.create_queue(QueueName=logical_id)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        events.put_rule(Name=logical_id, EventBusName=bus, EventPattern=json.dumps(pattern))
        events.put_targets(
            Rule=logical_id,
            EventBusName=bus,
            Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        rules[logical_id] = pattern
    print(json.dumps(rules))


def drain(endpoint, schema_path):
    with open(schema_path) as file:
        schema = json.load(file)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    sqs = client("sqs", endpoint)
    found = {}
    for queue in sqs.list_queues().get("QueueUrls", []):
        name = queue.rsplit("/", 1)[-1]
        received = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                event = json.loads(message["Body"])
                errors = [error.message for error in validator.iter_errors(event["detail"])]
                received.append(
                    {
                        "source": event["source"],
                        "detail-type": event["detail-type"],
                        "detail": event["detail"],
                        "errors": errors,
                    }
                )
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        found[name] = received
    print(json.dumps(found))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"setup": setup, "drain": drain}[command](*arguments)
