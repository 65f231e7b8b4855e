import { Column, Entity, PrimaryColumn } from 'typeorm';

export const PRINCIPAL_KINDS = ['user', 'service_account', 'system'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];
export const PRINCIPAL_ROLES = ['admin', 'member', 'system'] as const;
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

@Entity({ name: 'principals' })
export class PrincipalEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  /** null only for the one `system` principal, which owns the system key. */
  @Column({ name: 'tenant_id', type: 'uuid', nullable: true })
  tenantId!: string | null;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text' })
  kind!: PrincipalKind;

  @Column({ type: 'text' })
  role!: PrincipalRole;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'disabled_at', type: 'timestamptz', nullable: true })
  disabledAt!: Date | null;
}
