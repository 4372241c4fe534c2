// Global (Symbol.for) on purpose: the host and a plugin usually hold different copies of this
// package — the plugin's own node_modules — and must still recognise each other's subscribers,
// as fastify-plugin's Symbol.for('plugin-meta') does.
export const kSubscriber: unique symbol = Symbol.for('module-ingest.subscriber')
