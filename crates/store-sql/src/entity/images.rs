use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "images")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub key: String,
    pub channel: String,
    pub status: String,
    pub uploader_id: i64,
    pub content_type: String,
    pub declared_length: Option<i64>,
    pub checksum_sha256: Option<String>,
    pub original_filename: Option<String>,
    pub size: Option<i64>,
    pub etag: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub metadata: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub confirmed_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub private: bool,
    pub objects_removed_at: Option<i64>,
    /// JSON: `[{name, key, width, height, content_type}]`.
    pub variants: String,
    pub blurhash: Option<String>,
    pub stored_bytes: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
