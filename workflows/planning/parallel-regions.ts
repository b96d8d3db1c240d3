// What the planning machine runs in parallel: the assessment areas of `screening` and the release slots of `scheduled`.

/** The assessment regions of `screening`, and who answers each (approver group, human-task role, event). */
export const AREAS = {
  businessValue: { group: 'businessOwner', role: 'business_owner', event: 'VALUE_ASSESSED', outcome: 'SUBMITTED', title: 'Score value of {title}' },
  capacity: { group: 'capacityManager', role: 'capacity_manager', event: 'CAPACITY_ASSESSED', outcome: 'CONFIRM', title: 'Confirm capacity forecast' },
  serviceLevel: { group: 'serviceOwner', role: 'service_owner', event: 'SLA_ASSESSED', outcome: 'SUBMITTED', title: 'SLA/OLA impact of {title}' },
  financial: { group: 'finance', role: 'finance', event: 'COST_ASSESSED', outcome: 'SUBMITTED', title: 'Cost and budget check' },
} as const;
export type Area = keyof typeof AREAS;
export const AREA_NAMES = Object.keys(AREAS) as Area[];

/** Parallel regions of `scheduled`: a plan holds at most this many releases (one region each). */
export const MAX_RELEASES = 6;
