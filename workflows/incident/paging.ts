// The incident's paging ladder (§1.5): P1/P2 page the on-call levels in turn until someone acknowledges.
import { pagingLadder } from './escalation.ts';
import type { IncidentContext } from './types.ts';
import { DEFAULT_PAGE_ESCALATION_MS, MIN } from './defaults.ts';
import { delayOf, pagingEnabled } from './derived.ts';

export const paging = pagingLadder<IncidentContext>({
  task: 'page_oncall',
  enabled: pagingEnabled,
  acknowledged: (c) => c.respondedAt !== null,
  policy: (c) => c.config.pagingPolicy,
  timeoutMs: (c) => DEFAULT_PAGE_ESCALATION_MS[c.priority] ?? 30 * MIN,
  delayOverride: delayOf,
  pageInput: (c, page) => ({
    eventAction: 'trigger',
    // dedup_key = business key: a retried or repeated page lands on the same PagerDuty alert (§0.1).
    ...(c.businessKey ? { dedupKey: c.businessKey } : {}),
    summary: `[P${c.priority}] ${c.title}`.slice(0, 1024),
    severity: c.priority === 1 ? 'critical' : 'error',
    source: c.service ?? 'servicechart',
    escalationPolicy: c.oncall,
    level: page.level, loop: page.loop, page: page.page, target: page.target,
  }),
  exhausted: {
    target: () => 'incident_manager',
    humanTask: { role: 'incident_manager', title: 'Nobody acknowledged {number}', outcomes: { TAKE_OVER: 'ACKNOWLEDGE' } },
  },
});
