/**
 * The shape of a price catalog (the bundled `aws.json` / `gcp.json`, and the
 * user's override file, which may give only what it changes).
 */
import { z } from "zod";
import { FORM_FACTORS, GPU_MODELS } from "./gpu-names";

import { CLOUD_IDS as CLOUDS, type CloudId as Cloud } from "../providers/registry";
export type { Cloud };

const LOCATION = /^[a-z][a-z0-9-]{1,62}$/;
/** USD per hour; the ceiling only catches a misplaced decimal point. */
const price = z.number().positive().max(10_000);

export const RegionPricesSchema = z.strictObject({
  zones: z.array(z.string().regex(LOCATION)).min(1),
  on_demand: price,
  /** null: no typical spot price is known (the on-demand price bounds it). */
  spot: price.nullable(),
});

export const CatalogOfferSchema = z.strictObject({
  instance_type: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,62}$/),
  gpu: z.enum(GPU_MODELS),
  gpu_count: z.int().min(1).max(64),
  /** Per GPU. */
  gpu_memory_gb: z.number().positive().max(1024),
  form_factor: z.enum(FORM_FACTORS).optional(),
  /** GCP accelerator type, e.g. `nvidia-l4`. */
  accelerator_type: z.string().min(1).optional(),
  /** GCP: the GPU is not part of the machine type and must be attached as a guest accelerator (N1 + T4). */
  attach_accelerator: z.boolean().optional(),
  vcpus: z.int().min(1),
  memory_gb: z.number().positive(),
  regions: z.record(z.string().regex(LOCATION), RegionPricesSchema).refine((r) => Object.keys(r).length > 0, "needs at least one region"),
  notes: z.string().optional(),
  /** Said wherever this type would be bought on-demand (e.g. GCP types sold as spot only). */
  on_demand_note: z.string().optional(),
});

const meta = {
  cloud: z.enum(CLOUDS),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date such as 2026-11-24"),
  source: z.string().min(1),
  currency: z.literal("USD"),
  price_note: z.string(),
};

export const CatalogDataSchema = z
  .strictObject({ ...meta, offers: z.array(CatalogOfferSchema).min(1) })
  .superRefine((catalog, ctx) => {
    const seen = new Set<string>();
    catalog.offers.forEach((offer, i) => {
      if (seen.has(offer.instance_type)) {
        ctx.addIssue({ code: "custom", path: ["offers", i, "instance_type"], message: `${offer.instance_type} is listed twice`, input: offer.instance_type });
      }
      seen.add(offer.instance_type);
      // A zone outside its region is a typo that would otherwise surface only at launch.
      for (const [region, prices] of Object.entries(offer.regions)) {
        prices.zones.forEach((zone, j) => {
          if (!zone.startsWith(region)) {
            ctx.addIssue({ code: "custom", path: ["offers", i, "regions", region, "zones", j], message: `zone ${zone} is not in region ${region}`, input: zone });
          }
        });
      }
    });
  });

/** An override: only `offers` is required; an offer names its instance type and the fields it changes. */
export const CatalogOverrideSchema = z.strictObject({
  cloud: meta.cloud.optional(),
  date: meta.date.optional(),
  source: meta.source.optional(),
  currency: meta.currency.optional(),
  price_note: meta.price_note.optional(),
  offers: z.array(
    CatalogOfferSchema.extend({
      regions: z.record(z.string().regex(LOCATION), RegionPricesSchema.partial()),
    })
      .partial()
      .required({ instance_type: true }),
  ),
});

export type RegionPrices = z.output<typeof RegionPricesSchema>;
export type CatalogOffer = z.output<typeof CatalogOfferSchema>;
export type CatalogData = z.output<typeof CatalogDataSchema>;
export type CatalogOverride = z.output<typeof CatalogOverrideSchema>;
