/**
 * What every wire shares, and what the server around them uses too: token checks and roles
 * (tokens.ts), the error-code table of each wire (error-codes.ts), connection limits per address
 * and handshake deadlines (connections.ts), and the budget of request-body bytes in flight
 * (body-budget.ts). The wires import these files directly; everything else imports this one.
 */
export { bearerRole, roleChecker, type BearerCheck } from './tokens.js';
export { GRPC_STATUS, HTTP_STATUS, respErrorText } from './error-codes.js';
export { AddressCounts, defaultPerAddress, handshakeDeadline, type ConnectionRejectReason, type OnConnectionRejected } from './connections.js';
export { BodyBudget, DEFAULT_MAX_BODY_BYTES_IN_FLIGHT } from './body-budget.js';
