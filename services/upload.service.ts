/**
 * upload: the upload lifecycle (tus 1.0 sessions, size and type checks, originals in storage).
 * The tus endpoint and its actions arrive with the video pipeline; until then this service
 * only reports where originals will live.
 */
import type { ServiceSchema, ServiceSettingSchema } from "moleculer";
import path from "node:path";
import { loadConfig } from "../lib/config";
import { ErrorsMixin } from "../mixins/errors.mixin";

const config = loadConfig();

export interface UploadSettings extends ServiceSettingSchema {
	dataDir: string;
	s3: { bucket: string } | null;
}

const UploadService: ServiceSchema<UploadSettings> = {
	name: "upload",
	mixins: [ErrorsMixin],
	settings: { dataDir: config.dataDir, s3: config.s3 },
	created() {
		this.logger.info(
			`upload: originals in ${this.settings.s3 ? `s3 bucket '${this.settings.s3.bucket}'` : `local disk (${path.join(this.settings.dataDir, "storage")})`}`,
		);
	},
};

export default UploadService;
