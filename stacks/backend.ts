import { CloudBackend, LocalBackend, NamedCloudWorkspace, S3Backend, type TerraformStack } from 'cdktf';
import type { IotDrConfig } from '../config/schema';

/**
 * The engine versions the synthesized Terraform needs: S3-native state locking (`use_lockfile`)
 * and the provider features used need Terraform or OpenTofu 1.10+.
 * https://developer.hashicorp.com/terraform/language/terraform#terraform-required_version
 */
export const REQUIRED_TERRAFORM_VERSION = '>= 1.10';

/**
 * Configures where the one state of both regions lives: local (default), S3 with locking, or
 * Terraform Cloud / HCP Terraform.
 */
export function configureBackend(stack: TerraformStack, backend: IotDrConfig['backend'], stackName: string): void {
  stack.addOverride('terraform.required_version', REQUIRED_TERRAFORM_VERSION);
  switch (backend.type) {
    case 'local':
      new LocalBackend(stack, { path: backend.path ?? `terraform.${stackName}.tfstate` });
      return;
    case 's3': {
      const s3 = new S3Backend(stack, {
        bucket: backend.bucket,
        key: backend.key,
        region: backend.region,
        encrypt: backend.encrypt,
        kmsKeyId: backend.kmsKeyId,
        dynamodbTable: backend.dynamodbTable,
      });
      // S3-native locking (Terraform >= 1.10, OpenTofu >= 1.10); cdktf 0.21 has no typed field.
      if (backend.useLockfile) s3.addOverride('use_lockfile', true);
      return;
    }
    case 'cloud':
      new CloudBackend(stack, {
        organization: backend.organization,
        hostname: backend.hostname,
        workspaces: new NamedCloudWorkspace(backend.workspace),
      });
      return;
  }
}
