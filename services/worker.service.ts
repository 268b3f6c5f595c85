/**
 * worker: durable jobs (the pipeline per video, retries, clean-ups). The queues arrive with the
 * video pipeline; until then this service only reports which backend it will use.
 */
import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import { ErrorsMixin } from "../mixins/errors.mixin";

const config = loadConfig();

export interface WorkerSettings extends ServiceSettingSchema {
	redisUrl: string | null;
}

const WorkerService: ServiceSchema<WorkerSettings> = {
	name: "worker",
	mixins: [ErrorsMixin],
	settings: { redisUrl: config.redisUrl },
	created() {
		this.logger.info(
			`worker: jobs in ${this.settings.redisUrl ? "BullMQ on redis" : "an in-process queue"}`,
		);
	},
};

export default WorkerService;
