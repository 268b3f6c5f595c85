/**
 * Alert rules as a small state machine: a condition raises an alert once, keeps it active while
 * it holds, and resolves it when it clears. Pure: the monitor service feeds it observations.
 */

export type AlertRule = "node_lost" | "dependency_down" | "error_rate";
export type Severity = "warning" | "critical";

export interface Alert {
	id: string;
	rule: AlertRule;
	subject: string;
	severity: Severity;
	message: string;
	since: number;
	resolvedAt: number | null;
}

export class AlertBook {
	private readonly active = new Map<string, Alert>();
	private readonly history: Alert[] = [];

	constructor(private readonly opts: { historySize?: number; now?: () => number } = {}) {}

	private now(): number {
		return this.opts.now?.() ?? Date.now();
	}

	/** Raises an alert; returns it when it is new (so the caller emits it once), else null. */
	raise(rule: AlertRule, subject: string, severity: Severity, message: string): Alert | null {
		const id = `${rule}:${subject}`;
		if (this.active.has(id)) return null;
		const alert: Alert = {
			id,
			rule,
			subject,
			severity,
			message,
			since: this.now(),
			resolvedAt: null,
		};
		this.active.set(id, alert);
		this.remember(alert);
		return alert;
	}

	/** Resolves an active alert; returns it when something was resolved. */
	resolve(rule: AlertRule, subject: string): Alert | null {
		const id = `${rule}:${subject}`;
		const a = this.active.get(id);
		if (!a) return null;
		this.active.delete(id);
		a.resolvedAt = this.now();
		return a;
	}

	private remember(a: Alert): void {
		this.history.unshift(a);
		this.history.length = Math.min(this.history.length, this.opts.historySize ?? 200);
	}

	/** Active alerts, newest first, and the recent history including resolved ones. */
	list(): { active: Alert[]; recent: Alert[] } {
		return {
			active: [...this.active.values()].sort((a, b) => b.since - a.since),
			recent: [...this.history],
		};
	}
}

/** True when errors ÷ requests is over `threshold` with enough requests to mean something. */
export function errorRateExceeded(opts: {
	requests: number;
	errors: number;
	threshold: number;
	minRequests?: number;
}): boolean {
	if (opts.requests < (opts.minRequests ?? 20)) return false;
	return opts.errors / opts.requests > opts.threshold;
}
