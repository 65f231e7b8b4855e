import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '@runyard/contracts';
import { v7 as uuidv7 } from 'uuid';
import { ApiKeyEntity } from './api-key.entity.js';
import { generateApiKey, hashApiKey, isAcceptableApiKey, prefixForConfiguredKey } from './api-key-material.js';
import { CLOCK, type Clock } from './clock.js';
import { PrincipalEntity } from './principal.entity.js';
import { SystemKeyRepository, type SystemKeyCandidate } from './system-key.repository.js';

/**
 * The system key: the operator's credential, outside every tenant, for creating tenants. Called once
 * at every gateway start (by every replica).
 */
@Injectable()
export class SystemKeyService {
  constructor(
    private readonly systemKeys: SystemKeyRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * With `configured` (RUNYARD_BOOTSTRAP_API_KEY): that key becomes the one valid system key (stored
   * hashed; any other system key is revoked, so rotating the variable rotates the key) — idempotent
   * across restarts and replicas. Without it: on the very first start a key is generated and its
   * plaintext returned once, for the caller to show the operator; once a system key exists, `{}`.
   * Concurrent replicas are serialised by the repository, so exactly one key is ever generated.
   */
  async ensureSystemKey(configured?: string): Promise<{ generated?: string }> {
    const now = this.clock.now();
    if (configured !== undefined && configured !== '') {
      if (!isAcceptableApiKey(configured)) {
        throw new DomainError(
          ErrorCode.VALIDATION_FAILED,
          'RUNYARD_BOOTSTRAP_API_KEY must be a Runyard key (ryk_<12>_<43>) or 32-256 visible ASCII characters without spaces',
        );
      }
      await this.systemKeys.activateSystemKey(this.candidate(prefixForConfiguredKey(configured), hashApiKey(configured), now), now);
      return {};
    }
    const material = generateApiKey();
    const created = await this.systemKeys.insertSystemKeyIfNone(this.candidate(material.prefix, material.keyHash, now));
    return created ? { generated: material.key } : {};
  }

  private candidate(prefix: string, keyHash: string, now: Date): SystemKeyCandidate {
    const principal = new PrincipalEntity();
    principal.id = uuidv7();
    principal.tenantId = null;
    principal.name = 'system';
    principal.kind = 'system';
    principal.role = 'system';
    principal.createdAt = now;
    principal.disabledAt = null;

    const key = new ApiKeyEntity();
    key.id = uuidv7();
    key.tenantId = null;
    key.principalId = principal.id;
    key.name = 'system key';
    key.prefix = prefix;
    key.keyHash = keyHash;
    key.createdAt = now;
    key.lastUsedAt = null;
    key.revokedAt = null;
    key.createdBy = null;
    return { principal, key };
  }
}
