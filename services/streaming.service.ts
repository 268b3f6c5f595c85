/**
 * streaming: playback URLs and the files behind them. Signing and serving arrive with the video
 * pipeline; until then this service has no actions.
 */
import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import { loadConfig } from "../lib/config";
import { ErrorsMixin } from "../mixins/errors.mixin";

const config = loadConfig();

export interface StreamingSettings extends ServiceSettingSchema {
	s3: unknown;
	dataDir: string;
}

const StreamingService: ServiceSchema<StreamingSettings> = {
	name: "streaming",
	mixins: [ErrorsMixin],
	settings: { s3: config.s3, dataDir: config.dataDir },
	created() {
		this.logger.info(`streaming: serving from ${this.settings.s3 ? "s3" : "local disk"}`);
	},
};

export default StreamingService;
