import { MemoryTenantLogBudget } from './memory-tenant-log-budget.js';
import { describeTenantLogBudgetContract } from './tenant-log-budget.contract.js';

describeTenantLogBudgetContract('MemoryTenantLogBudget', (options) => new MemoryTenantLogBudget(options));
