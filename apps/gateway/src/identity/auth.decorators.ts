import { SetMetadata } from '@nestjs/common';
import type { CallerRole } from './caller.js';

export const PUBLIC_ROUTE = 'runyard:public-route';
export const REQUIRED_ROLES = 'runyard:required-roles';

/** No authentication (health, OpenAPI document, docs). Everything else requires an API key. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/**
 * Restricts a route (or controller) to callers with one of these roles. `admin` means a tenant admin;
 * the system key is not a tenant admin, so `@RequireRole('admin')` refuses it.
 */
export const RequireRole = (...roles: [CallerRole, ...CallerRole[]]): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLES, roles);
