/**
 * IoT actions the replication library calls for certificates and policies (complete mode only),
 * granted alike to the thing worker and to the reconciliation job: one list, so the two cannot
 * drift apart. Resource types: `cert` and `policy`.
 */

/** Reads a thing's certificates and their policies (in both regions). */
export const PRINCIPAL_READ_ACTIONS: readonly string[] = [
  'iot:DescribeCertificate',
  'iot:ListAttachedPolicies',
  'iot:ListPrincipalThings',
  'iot:GetPolicy',
  'iot:ListPolicyVersions',
  'iot:ListTargetsForPolicy',
];

/** Writes certificates, policies and their attachments (in the secondary only). */
export const PRINCIPAL_WRITE_ACTIONS: readonly string[] = [
  'iot:UpdateCertificate',
  'iot:DeleteCertificate',
  'iot:AttachPolicy',
  'iot:DetachPolicy',
  'iot:CreatePolicy',
  'iot:CreatePolicyVersion',
  'iot:DeletePolicy',
  'iot:DeletePolicyVersion',
];
