/** The local ALB model lives in local/lb/; this path stays for its importers. */
export * from './lb/index.ts';
