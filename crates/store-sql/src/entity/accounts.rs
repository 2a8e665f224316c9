use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub locale: Option<String>,
    pub phone: Option<String>,
    pub roles: String,
    pub profile_image_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub withdrawn_at: Option<i64>,
    pub suspended_at: Option<i64>,
    pub suspended_until: Option<i64>,
    pub suspended_by: Option<i64>,
    pub suspension_reason: Option<String>,
    pub suspension_note: Option<String>,
    pub suspension_report_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
