import type { Logger } from "../log/logger.ts";
import type { SettingNotice } from "../settings/reference-env.ts";

/**
 * One record per envoyproxy/ratelimit variable that is set but not acted on: a warning for what
 * Sluice does not implement, info for what it does not need or what Sluice's own option overrides.
 * Nothing set is ignored silently.
 */
export function logSettingNotices(notices: readonly SettingNotice[], logger: Logger): void {
  for (const notice of notices) logger[notice.level]({ setting: notice.setting }, notice.message);
}
