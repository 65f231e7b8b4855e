export { ConfigError, loadConfig, toBoolean } from './load-config.js';
