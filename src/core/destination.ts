export interface DeliveryRequest {
  /** Local spool file to send. */
  localPath: string;
  /** Absolute remote path, already checked to lie inside the destination's base folder. */
  remotePath: string;
  bytes: number;
  /**
   * Stops the delivery: an upload in flight is cut and its temporary file removed, and the call rejects with kind
   * `aborted`. Once files are being moved into place the abort is not acted on and the moves finish.
   */
  signal?: AbortSignal;
  /** Used to name the temporary upload. */
  runId: number | string;
}

export interface DeliveryReceipt {
  remotePath: string;
  bytes: number;
  /** Host and port or folder the file went to, for the run record. */
  target: string;
}

/**
 * A receipt is returned if and only if the file (every file of a set) is in place under its final name. A failure
 * leaves no temporary file behind, or logs a warning naming the one it could not remove; only a failure while a set
 * is being moved into place can leave part of the set moved (logged too).
 */
export interface Destination {
  readonly kind: string;
  deliver(request: DeliveryRequest): Promise<DeliveryReceipt>;
  /**
   * A set of files that belong together (a Clever CSV set): every file is uploaded under its temporary name and
   * checked first, and only then are all moved into place, so a failure part-way leaves yesterday's whole set.
   */
  deliverAll(requests: readonly DeliveryRequest[]): Promise<DeliveryReceipt[]>;
  close?(): Promise<void>;
}
