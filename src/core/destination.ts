export interface DeliveryRequest {
  /** Local spool file to send. */
  localPath: string;
  /** Absolute remote path, already checked to lie inside the destination's base folder. */
  remotePath: string;
  bytes: number;
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

export interface Destination {
  readonly kind: string;
  deliver(request: DeliveryRequest): Promise<DeliveryReceipt>;
  close?(): Promise<void>;
}
