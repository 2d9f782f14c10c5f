/** The public face of broker/: what other roles may use (docs/architecture.md). */
export { SINK_TOPIC, createBroker, type Broker, type BrokerPorts } from './broker.ts';
export { refusedToDeadLetter } from './deadletter.ts';
