// Tests never call home (cdktf telemetry) and never reach a real AWS endpoint by accident.
process.env.CHECKPOINT_DISABLE = '1';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
