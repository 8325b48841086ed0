/**
 * Failover DNS for the device hostname: a PRIMARY CNAME to the primary region's IoT Core data
 * endpoint and a SECONDARY CNAME to the secondary's, each tied to its region's Route 53 health
 * check. Optionally an AWS IoT domain configuration for the hostname in both regions, with an ACM
 * certificate per region validated through the same hosted zone, so devices keep one hostname
 * (and one server certificate name) across a failover.
 *
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-configuring.html
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-custom-endpoints-configurable-custom.html
 */
import { AcmCertificate } from '@cdktf/provider-aws/lib/acm-certificate';
import { AcmCertificateValidation } from '@cdktf/provider-aws/lib/acm-certificate-validation';
import { IotDomainConfiguration } from '@cdktf/provider-aws/lib/iot-domain-configuration';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Route53Record } from '@cdktf/provider-aws/lib/route53-record';
import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import type { IotDrConfig } from '../config/schema';
import type { RegionHealthCheck, RegionRole } from './health-check';
import { resourceName } from './names';

/** The DNS part of the configuration. */
export type DnsSettings = NonNullable<IotDrConfig['dns']>;

/** One side of the failover pair. */
export interface FailoverTarget {
  /** The region's provider (ACM certificate and domain configuration live there). */
  readonly provider: AwsProvider;
  /** The region's health check: its IoT endpoint is the record's target, its Route 53 check guards it. */
  readonly check: RegionHealthCheck;
}

export interface FailoverDnsProps {
  /** Provider for Route 53 records (a global service; any region works, us-east-1 is used). */
  readonly route53Provider: AwsProvider;
  readonly primary: FailoverTarget;
  readonly secondary: FailoverTarget;
  readonly dns: DnsSettings;
  readonly namePrefix: string;
}

/** The failover record pair, and the custom domain in both regions when configured. */
export class FailoverDns extends Construct {
  public readonly records: Record<RegionRole, Route53Record>;
  /** Present when `dns.customDomain` is true. */
  public readonly domainConfigurations?: Record<RegionRole, IotDomainConfiguration>;

  constructor(scope: Construct, id: string, props: FailoverDnsProps) {
    super(scope, id);
    const { dns } = props;
    const recordName = dns.recordName.replace(/\.$/, '');

    if (dns.customDomain) {
      this.domainConfigurations = {
        primary: this.customDomain('primary', props.primary, props, recordName),
        secondary: this.customDomain('secondary', props.secondary, props, recordName),
      };
    }

    const record = (role: RegionRole, target: FailoverTarget) =>
      new Route53Record(this, `${role}-record`, {
        provider: props.route53Provider,
        zoneId: dns.hostedZoneId,
        name: recordName,
        type: 'CNAME',
        ttl: dns.ttlSeconds,
        // With a custom domain, IoT Core asks for the custom name to be a CNAME of the region's
        // iot:Data-ATS endpoint; the domain configuration then serves the name's certificate.
        records: [target.check.iotEndpoint.endpointAddress],
        setIdentifier: `${props.namePrefix}-${role}`,
        failoverRoutingPolicy: { type: role === 'primary' ? 'PRIMARY' : 'SECONDARY' },
        healthCheckId: target.check.healthCheck.id,
        dependsOn: this.domainConfigurations ? [this.domainConfigurations[role]] : undefined,
      });
    this.records = { primary: record('primary', props.primary), secondary: record('secondary', props.secondary) };

    new TerraformOutput(this, 'device-hostname', {
      value: recordName,
      description: 'Hostname devices connect to; it fails over between the regions',
    }).overrideLogicalId('device_hostname');
  }

  /** ACM certificate (DNS-validated in the zone) and IoT domain configuration in one region. */
  private customDomain(
    role: RegionRole,
    target: FailoverTarget,
    props: FailoverDnsProps,
    recordName: string,
  ): IotDomainConfiguration {
    const certificate = new AcmCertificate(this, `${role}-certificate`, {
      provider: target.provider,
      domainName: recordName,
      validationMethod: 'DNS',
      keyAlgorithm: 'RSA_2048',
      lifecycle: { createBeforeDestroy: true },
      tags: { Name: resourceName(props.namePrefix, `devices-${role}`) },
    });
    const option = certificate.domainValidationOptions.get(0);
    // ACM derives the validation CNAME from the account and the name, so both regions usually ask
    // for the same record: the second write is identical, and allowOverwrite makes it idempotent.
    const validationRecord = new Route53Record(this, `${role}-validation-record`, {
      provider: props.route53Provider,
      zoneId: props.dns.hostedZoneId,
      name: option.resourceRecordName,
      type: option.resourceRecordType,
      records: [option.resourceRecordValue],
      ttl: 300,
      allowOverwrite: true,
    });
    const validation = new AcmCertificateValidation(this, `${role}-certificate-validation`, {
      provider: target.provider,
      certificateArn: certificate.arn,
      validationRecordFqdns: [validationRecord.fqdn],
    });
    return new IotDomainConfiguration(this, `${role}-domain`, {
      provider: target.provider,
      name: resourceName(props.namePrefix, 'devices'),
      domainName: recordName,
      serviceType: 'DATA',
      serverCertificateArns: [validation.certificateArn],
      tlsConfig: { securityPolicy: 'IoTSecurityPolicy_TLS13_1_2_2022_10' },
    });
  }
}
