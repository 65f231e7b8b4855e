import { Injectable } from '@nestjs/common';
import { ListPlanSteps, type Page, type PayloadOf, type PlanStepView } from '@runyard/contracts';
import { CommandHandler } from '@runyard/messaging';
import { PlanStepsService } from './plan-steps.service.js';

/** Bus entry points for principals' plan step reads (the executor's writes arrive through WorkersHandler). */
@Injectable()
export class PlanStepsHandler {
  constructor(private readonly steps: PlanStepsService) {}

  @CommandHandler(ListPlanSteps)
  list(payload: PayloadOf<typeof ListPlanSteps>): Promise<Page<PlanStepView>> {
    return this.steps.list(payload.scope, payload.run_id, payload.query);
  }
}
