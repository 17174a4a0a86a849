CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs (
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
