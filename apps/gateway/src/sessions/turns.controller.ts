import { Body, Controller, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CreateTurn, CreateTurnBody, TurnView } from '@runyard/contracts';
import { Audited } from '../audit/audited.decorator.js';
import { RequestId } from '../edge/request-id.decorator.js';
import { ServiceClient } from '../edge/service-client.js';
import { SessionIdPipe } from '../edge/uuid-param.pipe.js';
import { Caller, toCallerScope, type AuthenticatedCaller } from '../identity/caller.js';
import { IdempotencyKey } from '../edge/idempotency/idempotency-key.decorator.js';

/** Chat turns: the user's message and the run it asks for, accepted together by the sessions service. */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('v1/sessions/:id/turns')
export class TurnsController {
  constructor(private readonly services: ServiceClient) {}

  @Post()
  @HttpCode(HttpStatus.CREATED)
  @Audited('session.turn', 'session')
  @ApiOperation({
    summary: 'Take a chat turn',
    description: [
      'Appends the message to the session’s chat (role `user`) and creates a `chat` run with it as input (`content` → `input`, ' +
        '`input_items` → `input_items`); answers both.',
      'In a busy session the run is queued (`busy_policy: enqueue`, the default), takes over (`interrupt`), or the turn is refused ' +
        'with 409 `session_busy` (`reject`) and its message is not appended — unless a run starts between that check and the ' +
        'run’s creation, when the message stays and the 409 is returned all the same.',
      'Honours Idempotency-Key, beyond the gateway’s 24 h replay: a retry with the same key (same principal, same session) ' +
        'finds the message it appended and completes the turn with one run, so a turn that failed between the two steps ' +
        '(a 503 or 504) is finished by retrying it — no second message, no second run.',
    ].join('\n\n'),
  })
  @ApiParam({ name: 'id', format: 'uuid', description: 'Session id; unknown, foreign and malformed ids answer 404.' })
  @ApiCreatedResponse({ type: TurnView })
  create(
    @Caller() caller: AuthenticatedCaller,
    @Param('id', SessionIdPipe) id: string,
    @Body() body: CreateTurnBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
    @RequestId() requestId: string,
  ): Promise<TurnView> {
    const payload = { scope: toCallerScope(caller), session_id: id, body };
    return this.services.request(CreateTurn, idempotencyKey === undefined ? payload : { ...payload, idempotency_key: idempotencyKey }, requestId);
  }
}
