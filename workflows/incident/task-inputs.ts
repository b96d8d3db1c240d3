// What the incident machine hands its routing and problem-record tasks.
import type { IncidentContext } from './types.ts';

export function routeInput(c: IncidentContext): Record<string, unknown> {
  return {
    service: c.service, category: c.category, priority: c.priority, labels: c.labels, major: c.major,
    ...(c.config.routingRules ? { rules: c.config.routingRules } : {}),
  };
}

export function problemInput(c: IncidentContext, reason: string): Record<string, unknown> {
  return {
    reason, number: c.number, businessKey: c.businessKey, title: c.title, description: c.description, service: c.service, ci: c.ci,
    priority: c.priority, reopenCount: c.reopenCount, resolutionNotes: c.resolutionNotes,
  };
}
