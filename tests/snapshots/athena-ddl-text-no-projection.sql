CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs_records (
  `version` int,
  account_id string,
  interface_id string,
  srcaddr string,
  dstaddr string,
  srcport int,
  dstport int,
  `protocol` bigint,
  packets bigint,
  `bytes` bigint,
  `start` bigint,
  `end` bigint,
  `action` string,
  log_status string
)
PARTITIONED BY (aws_account_id string, aws_region string, day string)
ROW FORMAT DELIMITED
FIELDS TERMINATED BY ' '
LOCATION 's3://amzn-s3-demo-bucket/prefix/AWSLogs/'
TBLPROPERTIES (
  'skip.header.line.count' = '1'
);

CREATE OR REPLACE VIEW "vpc_flow_logs" AS
SELECT
  "version",
  "account_id",
  "interface_id",
  "srcaddr",
  "dstaddr",
  "srcport",
  "dstport",
  "protocol",
  "packets",
  "bytes",
  "start",
  "end",
  "action",
  "log_status",
  CAST(NULL AS varchar) AS "vpc_id",
  CAST(NULL AS varchar) AS "subnet_id",
  CAST(NULL AS varchar) AS "instance_id",
  CAST(NULL AS integer) AS "tcp_flags",
  CAST(NULL AS varchar) AS "type",
  CAST(NULL AS varchar) AS "pkt_srcaddr",
  CAST(NULL AS varchar) AS "pkt_dstaddr",
  CAST(NULL AS varchar) AS "region",
  CAST(NULL AS varchar) AS "az_id",
  CAST(NULL AS varchar) AS "sublocation_type",
  CAST(NULL AS varchar) AS "sublocation_id",
  CAST(NULL AS varchar) AS "pkt_src_aws_service",
  CAST(NULL AS varchar) AS "pkt_dst_aws_service",
  CAST(NULL AS varchar) AS "flow_direction",
  CAST(NULL AS integer) AS "traffic_path",
  CAST(NULL AS varchar) AS "ecs_cluster_arn",
  CAST(NULL AS varchar) AS "ecs_cluster_name",
  CAST(NULL AS varchar) AS "ecs_container_instance_arn",
  CAST(NULL AS varchar) AS "ecs_container_instance_id",
  CAST(NULL AS varchar) AS "ecs_container_id",
  CAST(NULL AS varchar) AS "ecs_second_container_id",
  CAST(NULL AS varchar) AS "ecs_service_name",
  CAST(NULL AS varchar) AS "ecs_task_definition_arn",
  CAST(NULL AS varchar) AS "ecs_task_arn",
  CAST(NULL AS varchar) AS "ecs_task_id",
  CAST(NULL AS varchar) AS "reject_reason",
  CAST(NULL AS integer) AS "encryption_status",
  CAST(NULL AS map(varchar, varchar)) AS "extra_fields",
  "aws_account_id",
  "aws_region",
  coalesce(CAST(from_unixtime("start") AS date), CAST(date_parse(day, '%Y/%m/%d') AS date)) AS "date"
FROM "vpc_flow_logs_records";
