import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaFunction } from '@cdktf/provider-aws/lib/lambda-function';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { AssetType, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';
import { bundleFunction, type LambdaBundle } from './bundle';

/** One statement of an IAM policy. Actions are never `*`; resources are ARNs wherever the API allows. */
export interface PolicyStatement {
  readonly sid?: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly conditions?: Record<string, Record<string, string | readonly string[]>>;
}

/**
 * Renders statements as an IAM policy document. String tokens (ARNs of other resources) become
 * `${...}` interpolations inside the JSON string, so the synthesized policy stays plain JSON that
 * reviewers (and tests) can read.
 */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  for (const s of statements) {
    for (const a of s.actions) {
      if (a === '*' || a.endsWith(':*')) throw new Error(`IAM action "${a}" is a wildcard; name the actions`);
    }
  }
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: statements.map((s) => ({
      ...(s.sid ? { Sid: s.sid } : {}),
      Effect: 'Allow',
      Action: [...s.actions],
      Resource: [...s.resources],
      ...(s.conditions ? { Condition: s.conditions } : {}),
    })),
  });
}

/** The resources a service may assume a role for (confused-deputy protection). */
export interface AssumeRoleSource {
  /** Account owning those resources, matched against `aws:SourceAccount`. */
  readonly account: string;
  /** Their ARNs (wildcards allowed), matched against `aws:SourceArn` with `ArnLike`. */
  readonly arns: readonly string[];
}

/**
 * Trust policy letting one AWS service assume a role. With `source`, only on behalf of those
 * resources of that account: the service passes `aws:SourceAccount` and `aws:SourceArn` when it
 * assumes the role, so another account's rule or state machine cannot borrow it.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html#cross-service-confused-deputy-prevention
 */
export function assumeRolePolicy(service: string, source?: AssumeRoleSource): string {
  const condition = source
    ? {
        Condition: {
          StringEquals: { 'aws:SourceAccount': source.account },
          ArnLike: { 'aws:SourceArn': source.arns.length === 1 ? source.arns[0] : [...source.arns] },
        },
      }
    : {};
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole', ...condition }],
  });
}

export interface NodejsFunctionProps {
  /** The region's provider (`primary` or `secondary`). */
  readonly provider: AwsProvider;
  /** Physical function name (from `resourceName`). Also names the role and log group. */
  readonly functionName: string;
  /** Folder under `functions/` whose `handler.ts` exports `handler`. */
  readonly entry: string;
  readonly description?: string;
  /** @default {} */
  readonly environment?: Record<string, string>;
  /** @default 256 */
  readonly memorySizeMb?: number;
  /** @default 30 */
  readonly timeoutSeconds?: number;
  /** Retention of the function's log group, from the configuration. */
  readonly logRetentionDays: number;
  /** What the function may do besides writing its own logs. @default [] */
  readonly statements?: readonly PolicyStatement[];
  /** @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** Folder holding the function folders. @default <project>/functions */
  readonly functionsDir?: string;
  /**
   * Map stack traces through the bundled source map (`--enable-source-maps`). Node then parses the
   * whole map on the first error object a container creates (hundreds of ms for a 1 MB map): turn
   * it off for functions with a latency budget (the health checks). @default true
   */
  readonly sourceMaps?: boolean;
  /** Graviton is cheaper per GB-second and starts as fast. @default 'arm64' */
  readonly architecture?: 'arm64' | 'x86_64';
}

/**
 * A Node.js 22 Lambda function bundled from `functions/<entry>` at synth time, with its own
 * deterministic zip, log group (JSON logs, fixed retention) and least-privilege role.
 */
export class NodejsFunction extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: IamRole;
  public readonly logGroup: CloudwatchLogGroup;
  public readonly bundle: LambdaBundle;

  constructor(scope: Construct, id: string, props: NodejsFunctionProps) {
    super(scope, id);
    const provider = props.provider;
    const statements = props.statements ?? [];
    const architecture = props.architecture ?? 'arm64';

    this.bundle = bundleFunction(props.entry, props.functionsDir);
    const asset = new TerraformAsset(this, 'code', { path: this.bundle.zipPath, type: AssetType.FILE });

    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      provider,
      name: `/aws/lambda/${props.functionName}`,
      retentionInDays: props.logRetentionDays,
    });

    this.role = new IamRole(this, 'role', {
      provider,
      name: props.functionName,
      assumeRolePolicy: assumeRolePolicy('lambda.amazonaws.com'),
    });

    new IamRolePolicy(this, 'policy', {
      provider,
      name: 'least-privilege',
      role: this.role.name,
      policy: policyDocument([
        {
          sid: 'OwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${this.logGroup.arn}:*`],
        },
        ...statements,
      ]),
    });

    this.function = new LambdaFunction(this, 'function', {
      provider,
      functionName: props.functionName,
      description: props.description,
      role: this.role.arn,
      runtime: 'nodejs22.x',
      architectures: [architecture],
      handler: 'index.handler',
      filename: asset.path,
      sourceCodeHash: this.bundle.sha256,
      memorySize: props.memorySizeMb ?? 256,
      timeout: props.timeoutSeconds ?? 30,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: {
        variables: {
          ...(props.sourceMaps === false ? {} : { NODE_OPTIONS: '--enable-source-maps' }),
          ...(props.environment ?? {}),
        },
      },
      loggingConfig: { logFormat: 'JSON', logGroup: this.logGroup.name },
      dependsOn: [this.logGroup],
    });
  }

  /** Adds permissions after construction (for grants that need the function's own ARN). */
  public addStatements(id: string, statements: readonly PolicyStatement[]): IamRolePolicy {
    return new IamRolePolicy(this, id, {
      provider: this.function.provider as AwsProvider,
      name: id,
      role: this.role.name,
      policy: policyDocument(statements),
    });
  }
}
