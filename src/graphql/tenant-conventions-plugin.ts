// Shapes the generated GraphQL API around the database's tenant conventions, for every tenant
// table at once (a new table following the conventions needs nothing here):
// - type and field names carry no schema prefix (`Person`, `people`, not `CrmPerson`);
// - the `id` column is the row's UUID (`id`, not `rowId`), the Node interface is not used;
// - a table whose primary key is (organisation_id, id) is fetched, updated and deleted by `id`
//   alone (`person(id:)`, `updatePerson`, `deletePerson`): RLS supplies the organisation; keys
//   that include organisation_id get no lookup or mutation fields of their own;
// - relations are named by their non-tenant columns (`person`, `positions`), not
//   `positionsByOrganisationIdAndPersonId`;
// - `organisation_id` never appears in create or update inputs (the column defaults from the
//   tenant setting; its grants already exclude it, this makes it explicit).
import type { PgResource, PgResourceUnique } from "postgraphile/@dataplan/pg";
import { pgSmartTags } from "postgraphile/utils";
import type { PgClass, PgConstraint } from "postgraphile/graphile-build-pg/pg-introspection";

const TENANT_COLUMN = "organisation_id";

function columnNames(pgClass: PgClass, attnums: readonly number[] | null | undefined): string[] {
  const attributes = pgClass.getAttributes();
  return (attnums ?? []).map((n) => attributes.find((a) => a.attnum === n)?.attname ?? "?");
}

function hasTenantPrimaryKey(pgClass: PgClass): boolean {
  const primaryKey = pgClass.getConstraints().find((c) => c.contype === "p");
  if (!primaryKey) return false;
  return columnNames(pgClass, primaryKey.conkey).join(",") === `${TENANT_COLUMN},id`;
}

/** A primary key or unique constraint that includes organisation_id, which clients never send. */
function isKeyWithTenantColumn(constraint: PgConstraint): boolean {
  const pgClass = constraint.getClass();
  if (pgClass === undefined || (constraint.contype !== "p" && constraint.contype !== "u")) return false;
  return columnNames(pgClass, constraint.conkey).includes(TENANT_COLUMN);
}

/** The virtual unique key on `id` that the smart tags below add to tenant tables. */
function isIdUniqueOfTenantTable(unique: PgResourceUnique, resource: PgResource): boolean {
  if (unique.isPrimary || unique.attributes.length !== 1 || unique.attributes[0] !== "id") return false;
  const primaryKey = resource.uniques.find((u) => u.isPrimary);
  return primaryKey?.attributes.join(",") === `${TENANT_COLUMN},id`;
}

/** Smart tags applied by rule instead of being repeated in every table's comment. */
export const TenantSmartTagsPlugin = pgSmartTags(
  [
    {
      kind: "class",
      match: (pgClass) => pgClass.relkind === "r" && hasTenantPrimaryKey(pgClass),
      tags: { unique: "id" },
    },
    {
      // No `…ByOrganisationIdAnd…` lookups or mutations: rows are reached by id, or by filtering.
      kind: "constraint",
      match: isKeyWithTenantColumn,
      tags: { behavior: "-single -update -delete" },
    },
    {
      kind: "attribute",
      match: (attribute) => attribute.attname === TENANT_COLUMN,
      tags: { behavior: "-insert -update" },
    },
  ],
  null,
  { name: "TenantSmartTagsPlugin", description: "Tenant tables: lookups by id, organisation_id not writable" },
);

export const TenantInflectionPlugin: GraphileConfig.Plugin = {
  name: "TenantInflectionPlugin",
  version: "1.0.0",
  after: ["PgSimplifyInflectionPlugin", "PgAttributesPlugin", "PgTablesPlugin"],
  inflection: {
    replace: {
      _schemaPrefix() {
        return "";
      },
      _attributeName(previous, options, details) {
        const name = previous!(details);
        if (name !== "row_id") return name;
        const attribute = details.codec.attributes[details.attributeName];
        const baseName = attribute?.extensions?.tags?.name ?? details.attributeName;
        return baseName === "id" ? "id" : name;
      },
      // Relations are named after their non-tenant key: positions → `person`, person → `positions`.
      _getBaseNameFromKeys(previous, options, detailedKeys) {
        const withoutTenant = detailedKeys.filter((key) => key.attributeName !== TENANT_COLUMN);
        return previous!(withoutTenant.length > 0 ? withoutTenant : detailedKeys);
      },
      rowByUnique(previous, options, details) {
        if (!isIdUniqueOfTenantTable(details.unique, details.resource)) return previous!(details);
        return this.camelCase(this._singularizedCodecName(details.resource.codec));
      },
      updateByKeysField(previous, options, details) {
        if (!isIdUniqueOfTenantTable(details.unique, details.resource)) return previous!(details);
        return this.camelCase(`update-${this._singularizedCodecName(details.resource.codec)}`);
      },
      deleteByKeysField(previous, options, details) {
        if (!isIdUniqueOfTenantTable(details.unique, details.resource)) return previous!(details);
        return this.camelCase(`delete-${this._singularizedCodecName(details.resource.codec)}`);
      },
      updateByKeysInputType(previous, options, details) {
        if (!isIdUniqueOfTenantTable(details.unique, details.resource)) return previous!(details);
        return this.upperCamelCase(`update-${this._singularizedCodecName(details.resource.codec)}-input`);
      },
      deleteByKeysInputType(previous, options, details) {
        if (!isIdUniqueOfTenantTable(details.unique, details.resource)) return previous!(details);
        return this.upperCamelCase(`delete-${this._singularizedCodecName(details.resource.codec)}-input`);
      },
    },
  },
};
