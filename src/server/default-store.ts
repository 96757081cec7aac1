/**
 * The store a broker uses when none is given, in a module of its own: the CLI commands that read
 * the store themselves (inspect, doctor) default to it too, without loading the server.
 */
export const DEFAULT_STORE = 'file:./bucketq-data';
