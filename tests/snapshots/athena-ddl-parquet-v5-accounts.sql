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
  log_status string,
  vpc_id string,
  subnet_id string,
  instance_id string,
  tcp_flags int,
  `type` string,
  pkt_srcaddr string,
  pkt_dstaddr string,
  `region` string,
  az_id string,
  sublocation_type string,
  sublocation_id string,
  pkt_src_aws_service string,
  pkt_dst_aws_service string,
  flow_direction string,
  traffic_path int
)
PARTITIONED BY (aws_account_id string, aws_region string, day string, hour string)
STORED AS PARQUET
LOCATION 's3://amzn-s3-demo-bucket/AWSLogs/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.aws_account_id.type' = 'enum',
  'projection.aws_account_id.values' = '123456789012',
  'projection.aws_region.type' = 'injected',
  'projection.day.type' = 'date',
  'projection.day.format' = 'yyyy/MM/dd',
  'projection.day.range' = '2020/01/01,NOW',
  'projection.day.interval' = '1',
  'projection.day.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = 's3://amzn-s3-demo-bucket/AWSLogs/${aws_account_id}/vpcflowlogs/${aws_region}/${day}/${hour}'
);
